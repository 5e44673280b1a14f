"""SMC columns vs a bar-by-bar reference of the spec's loops, and vs `smartmoneyconcepts`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.features.smc_reference import smc_reference
from tradeformer.features import SMC_COLUMNS, smc_features
from tradeformer.features.smc import (
    SMCParams,
    confirmed_swings,
    fair_value_gaps,
    latest_level,
)
from tradeformer.features.smc import (
    lagged as shift,
)


@pytest.mark.parametrize(
    ("folder", "symbol"),
    [
        ("daily", "AAPL"),
        ("daily", "CCL"),
        ("daily", "CHTR"),
        # stand-in hourly paths are synthetic: their order blocks are not a real market's
        pytest.param("hourly", "TSLA", marks=pytest.mark.real_data),
    ],
)
def test_matches_bar_by_bar_reference(shared_data, folder, symbol):
    bars = pd.read_parquet(shared_data / folder / f"{symbol}.parquet").iloc[-2500:]
    bars = bars.reset_index(drop=True)
    ours = smc_features(bars)
    ref = smc_reference(bars)
    for col in SMC_COLUMNS:
        np.testing.assert_allclose(ours[col], ref[col], rtol=1e-12, atol=0, err_msg=col)
    # the events do occur on real data (the test is not vacuous)
    assert ours["bos_bullish"].sum() > 5
    assert ours["choch_bearish"].sum() > 5
    assert ours["num_bearish_ob"].max() > 0


def test_other_parameters_match_reference(shared_data):
    bars = pd.read_parquet(shared_data / "daily" / "AMD.parquet").iloc[-1500:]
    bars = bars.reset_index(drop=True)
    p = SMCParams(ob_threshold=0.01, zone_lookback=30, liquidity_window=7, structure_window=3)
    ours, ref = smc_features(bars, p), smc_reference(bars, p)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_fvg_agrees_with_smartmoneyconcepts_once_shifted(shared_data):
    """`smc.fvg` labels the middle candle (it needs the next bar: look-ahead) and also asks the
    middle candle to point the gap's way. Shifted by one bar to when it is known, its events are
    exactly ours restricted to that candle condition."""
    smc_pkg = pytest.importorskip("smartmoneyconcepts").smc
    for sym in ("AAPL", "NVDA", "XOM"):
        bars = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        theirs = smc_pkg.fvg(bars[["open", "high", "low", "close", "volume"]])["FVG"].to_numpy()
        known = np.r_[np.nan, theirs[:-1]]  # label of bar i becomes known at i + 1
        h, lo = bars["high"].to_numpy(float), bars["low"].to_numpy(float)
        bull, bear, _, _ = fair_value_gaps(h, lo)
        green = np.r_[False, (bars["close"] > bars["open"]).to_numpy()[:-1]]
        red = np.r_[False, (bars["close"] < bars["open"]).to_numpy()[:-1]]
        np.testing.assert_array_equal(known == 1, bull & green)
        np.testing.assert_array_equal(known == -1, bear & red)
        assert (known == 1).sum() > 100


def test_swing_level_waits_for_confirmation(shared_data):
    """A new, huge swing high at bar t becomes the liquidity level only at t + window."""
    bars = pd.read_parquet(shared_data / "daily" / "MSFT.parquet").iloc[:800]
    h = bars["high"].to_numpy(float)
    w = SMCParams().liquidity_window
    base = latest_level(confirmed_swings(h, w, high=True), shift(h, w))
    for t in (200, 400, 600):
        bumped = h.copy()
        bumped[t] *= 1.5
        level = latest_level(confirmed_swings(bumped, w, high=True), shift(bumped, w))
        np.testing.assert_array_equal(level[: t + w], base[: t + w])
        assert level[t + w] == bumped[t]


@pytest.mark.parametrize("start", [0, 2000, 2440])
def test_zone_distance_strategies_agree(shared_data, monkeypatch, start):
    """Gathering every (bar, lag) pair and one pass per lag give identical distances."""
    from tradeformer.features import smc as smc_module

    frames = [
        pd.read_parquet(shared_data / "daily" / f"{s}.parquet").iloc[-2560:]
        for s in ("AAPL", "CCL")
    ]
    o, h, lo, c = (
        np.stack([f[k].to_numpy(float) for f in frames]) for k in ("open", "high", "low", "close")
    )
    p = SMCParams()
    monkeypatch.setattr(smc_module, "GATHER_LIMIT", 0)
    by_lag = smc_module.smc_arrays(o, h, lo, c, p, start=start)
    monkeypatch.setattr(smc_module, "GATHER_LIMIT", 10**12)
    gathered = smc_module.smc_arrays(o, h, lo, c, p, start=start)
    for col in ("nearest_ob_distance", "nearest_fvg_distance"):
        np.testing.assert_array_equal(gathered[col], by_lag[col])
        assert np.isfinite(gathered[col][:, start + 30 :]).all()
        assert (gathered[col][:, start + 30 :] < p.distance_cap).mean() > 0.2
