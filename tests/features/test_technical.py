"""Technical columns cross-checked against independent pandas computations on real daily bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.features import TECHNICAL_COLUMNS, technical_features

SETTLED = 300  # bars after which differently-seeded recursive averages agree to ~1e-7


@pytest.fixture(scope="module")
def universe(shared_data) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted((shared_data / "daily").glob("*.parquet"))}


def wilder(x: pd.Series, n: int) -> pd.Series:
    return x.ewm(alpha=1.0 / n, adjust=False).mean()


def ta_ema(x: pd.Series, n: int) -> pd.Series:
    """EMA seeded with the SMA of the first n values (TA-Lib's convention), via pandas."""
    s = x.iloc[n - 1 :].copy()
    s.iloc[0] = x.iloc[:n].mean()
    return s.ewm(span=n, adjust=False).mean().reindex(x.index)


def reference(bars: pd.DataFrame) -> pd.DataFrame:
    """The 12 columns from their textbook definitions in pandas (see docs/features.md)."""
    h, lo, c, v = (bars[k].astype(float) for k in ("high", "low", "close", "volume"))
    diff = c.diff()
    rs = wilder(diff.clip(lower=0), 14) / wilder((-diff).clip(lower=0), 14)
    tr = pd.concat([h - lo, (h - c.shift()).abs(), (lo - c.shift()).abs()], axis=1).max(axis=1)
    atr = wilder(tr, 14)
    macd = c.ewm(span=12, adjust=False).mean() - c.ewm(span=26, adjust=False).mean()
    signal = macd.ewm(span=9, adjust=False).mean()
    mid, sd = c.rolling(20).mean(), c.rolling(20).std(ddof=0)
    up_move, down_move = h.diff(), -lo.diff()
    pdm = up_move.where((up_move > down_move) & (up_move > 0), 0.0)
    mdm = down_move.where((down_move > up_move) & (down_move > 0), 0.0)
    pdi = 100 * wilder(pdm, 14) / atr
    mdi = 100 * wilder(mdm, 14) / atr
    adx = wilder(100 * (pdi - mdi).abs() / (pdi + mdi), 14)
    signed = np.sign(diff).fillna(0) * v
    tp = (h + lo + c) / 3
    vwap = (tp * v).rolling(20).sum() / v.rolling(20).sum()
    return pd.DataFrame(
        {
            "rsi": 100 - 100 / (1 + rs),
            "macd": macd / atr,
            "macd_signal": signal / atr,
            "macd_hist": (macd - signal) / atr,
            "bb_position": (c - (mid - 2 * sd)) / (4 * sd),
            "atr_normalized": atr / c,
            "adx": adx,
            "obv_trend": signed.rolling(10).sum() / v.rolling(10).sum(),
            "vwap_distance": c / vwap - 1,
            "ema_fast": c / ta_ema(c, 9) - 1,
            "ema_slow": c / ta_ema(c, 21) - 1,
            "volume_ratio": v / v.rolling(20).mean(),
        }
    )


# exact (windowed) definitions agree to rounding; recursive ones after they settle
TOLERANCE = {
    "bb_position": 1e-8,
    "obv_trend": 1e-12,
    "vwap_distance": 1e-12,
    "volume_ratio": 1e-12,
    "ema_fast": 1e-12,
    "ema_slow": 1e-12,
    "rsi": 1e-6,
    "atr_normalized": 1e-9,
    "macd": 1e-7,
    "macd_signal": 1e-7,
    "macd_hist": 1e-7,
    "adx": 1e-5,
}


def test_columns_and_order(universe):
    out = technical_features(universe["AAPL"])
    assert tuple(out.columns) == TECHNICAL_COLUMNS
    assert out.index.equals(universe["AAPL"].index)


@pytest.fixture(scope="module")
def ours_and_reference(universe) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    return {s: (technical_features(b), reference(b)) for s, b in universe.items()}


@pytest.mark.parametrize("column", TECHNICAL_COLUMNS)
def test_matches_pandas_reference_on_all_daily_symbols(ours_and_reference, column):
    worst = 0.0
    for sym, (ours_df, ref_df) in ours_and_reference.items():
        ours = ours_df[column].to_numpy()[SETTLED:]
        ref = ref_df[column].to_numpy()[SETTLED:]
        ok = np.isfinite(ref)  # zero-volume windows: ours defines a fallback, ref is NaN/inf
        assert np.isfinite(ours).all(), (sym, column)
        err = np.max(np.abs(ours[ok] - ref[ok])) if ok.any() else 0.0
        worst = max(worst, err)
    assert worst < TOLERANCE[column], (column, worst)


def test_zero_volume_fallbacks(shared_data):
    """Hourly index bars often have volume 0: defined, documented fallbacks instead of NaN."""
    bars = pd.read_parquet(shared_data / "hourly" / "SPX500.parquet")
    assert (bars["volume"] == 0).any()
    out = technical_features(bars).iloc[40:]
    assert np.isfinite(out.to_numpy()).all()
    zero_window = bars["volume"].rolling(20).sum().iloc[40:] == 0
    if zero_window.any():
        assert (out.loc[zero_window, "volume_ratio"] == 1.0).all()


def test_scale_free(universe):
    """Multiplying prices by 1000 and volume by 7 leaves every column unchanged."""
    bars = universe["MSFT"]
    scaled = bars.assign(
        **{k: bars[k] * 1000.0 for k in ("open", "high", "low", "close")},
        volume=bars["volume"] * 7.0,
    )
    a = technical_features(bars).to_numpy()
    b = technical_features(scaled).to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_flat_closes_give_mid_band_not_inf():
    """A halted stock (20+ equal closes) has zero-width bands; TA-Lib's rolling mean leaves a
    rounding residue there, which once made bb_position -inf (found on the bundled MSFT)."""
    from tradeformer.data import load_sample

    bars = load_sample().bars["MSFT"].iloc[-300:].reset_index(drop=True)
    flat = slice(200, 230)
    for col in ("open", "high", "low", "close"):
        bars.loc[flat, col] = 490.780041
    out = technical_features(bars)
    assert np.isfinite(out.iloc[40:].to_numpy()).all()
    assert (out["bb_position"].iloc[219:230] == 0.5).all()
