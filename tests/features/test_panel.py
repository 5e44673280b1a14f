"""A panel of symbols gives every symbol exactly its own single-symbol features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.features.columns import CLASSICAL_COLUMNS
from tradeformer.features.panel import BarPanel, classical_arrays
from tradeformer.features.pipeline import FeatureConfig, classical_features


@pytest.fixture(scope="module")
def ragged(shared_data) -> dict[str, pd.DataFrame]:
    """Real daily symbols cut to different lengths and start dates."""
    out = {}
    for k, sym in enumerate(("AAPL", "CCL", "CHTR", "XOM", "NVDA")):
        b = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        out[sym] = b.iloc[100 * k : 100 * k + 400 + 150 * k].reset_index(drop=True)
    return out


def test_panel_equals_each_symbol_alone(ragged):
    cfg = FeatureConfig()
    panel = BarPanel.from_frames(ragged)
    assert panel.ohlcv.shape == (5, max(len(b) for b in ragged.values()), 5)
    values = classical_arrays(panel, "1D", *cfg.params())
    for s, (sym, bars) in enumerate(ragged.items()):
        alone = classical_features(bars, cfg, timeframe="1D")[0][list(CLASSICAL_COLUMNS)]
        n = len(bars)
        np.testing.assert_array_equal(values[s, :n], alone.to_numpy(), err_msg=sym)
        assert np.isfinite(values[s, n - 1]).all()


def test_padding_and_neighbours_do_not_leak(ragged):
    """Changing one symbol's bars (or its length) leaves every other row bit-identical."""
    cfg = FeatureConfig()
    base = classical_arrays(BarPanel.from_frames(ragged), "1D", *cfg.params())
    changed = dict(ragged)
    b = ragged["CCL"].copy()
    b[["open", "high", "low", "close"]] *= 3.0
    changed["CCL"] = pd.concat([b, b.iloc[-1:]]).iloc[:-200]
    other = classical_arrays(BarPanel.from_frames(changed), "1D", *cfg.params())
    for s, (sym, bars) in enumerate(ragged.items()):
        if sym != "CCL":
            n = len(bars)
            np.testing.assert_array_equal(other[s, :n], base[s, :n], err_msg=sym)


def test_tail_index_and_errors(ragged):
    panel = BarPanel.from_frames(ragged)
    idx = panel.tail_index(10)
    np.testing.assert_array_equal(idx[:, -1], panel.lengths - 1)
    last_close = np.take_along_axis(panel.field("close"), idx[:, -1:], axis=1)[:, 0]
    np.testing.assert_array_equal(last_close, [b["close"].iloc[-1] for b in ragged.values()])
    with pytest.raises(ValueError, match="at least"):
        panel.tail_index(10_000)
    with pytest.raises(ValueError, match="no bars"):
        BarPanel.from_frames({"X": ragged["AAPL"].iloc[:0]})


def test_start_skips_only_the_zone_distances_before_it(ragged):
    cfg = FeatureConfig()
    panel = BarPanel.from_frames(ragged)
    full = classical_arrays(panel, "1D", *cfg.params())
    start = 300
    part = classical_arrays(panel, "1D", *cfg.params(), start=start)
    np.testing.assert_array_equal(part[:, start:], full[:, start:])
    zone = [CLASSICAL_COLUMNS.index(c) for c in ("nearest_ob_distance", "nearest_fvg_distance")]
    other = [k for k in range(len(CLASSICAL_COLUMNS)) if k not in zone]
    np.testing.assert_array_equal(part[:, :start, other], full[:, :start, other])
    assert np.isnan(part[:, :start, zone]).all()


def test_per_symbol_start_on_a_ragged_panel(ragged):
    """Each symbol's own last bars: equal to the full computation there, NaN before."""
    cfg = FeatureConfig()
    panel = BarPanel.from_frames(ragged)
    full = classical_arrays(panel, "1D", *cfg.params())
    start = panel.lengths - 120
    part = classical_arrays(panel, "1D", *cfg.params(), start=start)
    zone = [CLASSICAL_COLUMNS.index(c) for c in ("nearest_ob_distance", "nearest_fvg_distance")]
    for s, n in enumerate(panel.lengths):
        np.testing.assert_array_equal(part[s, n - 120 : n], full[s, n - 120 : n])
        assert np.isnan(part[s, : n - 120, zone]).all()
        assert np.isfinite(part[s, n - 120 : n]).all()


def test_panel_features_ignore_each_symbols_future(ragged):
    """Changing a symbol's bars after t (prices, volume, even how many there are) leaves its
    features up to t bit-identical: on the serving path (per-symbol start, gathered lags)."""
    cfg = FeatureConfig()
    panel = BarPanel.from_frames(ragged)
    start = panel.lengths - 120
    base = classical_arrays(panel, "1D", *cfg.params(), start=start)
    n = len(ragged["AAPL"])
    for t in (n - 100, n - 30):
        future = ragged["AAPL"].copy()
        future.loc[t + 1 :, ["open", "high", "low", "close"]] *= 1.7
        future.loc[t + 1 :, "volume"] *= 5
        for bars in (future, future.iloc[: t + 5]):
            frames = {**ragged, "AAPL": bars.reset_index(drop=True)}
            p2 = BarPanel.from_frames(frames)
            # the same rows computed as before (start fixed), so only the future differs
            other = classical_arrays(p2, "1D", *cfg.params(), start=start)
            np.testing.assert_array_equal(other[0, : t + 1], base[0, : t + 1])
