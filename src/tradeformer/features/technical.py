"""The 12 technical-indicator columns, scale-free, from TA-Lib where it has the indicator.

Formulas and smoothing are documented in docs/features.md. All are causal: the value at bar t
uses bars <= t only (TA-Lib and the rolling sums here are forward recursions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from tradeformer.features.columns import TECHNICAL_COLUMNS


@dataclass(frozen=True)
class TechnicalParams:
    """Indicator periods (the spec's defaults)."""

    rsi: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_period: int = 20
    bb_width: float = 2.0
    atr: int = 14
    adx: int = 14
    obv_lag: int = 10
    vwap: int = 20
    ema_fast: int = 9
    ema_slow: int = 21
    volume_avg: int = 20


def safe_div(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """num / den, `fill` where den == 0 (NaN stays NaN)."""
    out = np.full_like(num, np.nan)
    ok = den != 0
    np.divide(num, den, out=out, where=ok)
    out[~ok & np.isfinite(den) & np.isfinite(num)] = fill
    return out


def ohlcv_arrays(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Contiguous float64 open, high, low, close, volume."""
    return tuple(
        np.ascontiguousarray(bars[c].to_numpy(dtype="float64"))
        for c in ("open", "high", "low", "close", "volume")
    )


def technical_features(bars: pd.DataFrame, params: TechnicalParams | None = None) -> pd.DataFrame:
    """12 TA columns on the bars' index (NaN during each indicator's warm-up)."""
    p = params or TechnicalParams()
    _, h, lo, c, v = ohlcv_arrays(bars)

    rsi = talib.RSI(c, p.rsi)
    macd, signal, hist = talib.MACD(c, p.macd_fast, p.macd_slow, p.macd_signal)
    atr = talib.ATR(h, lo, c, p.atr)
    upper, _, lower = talib.BBANDS(c, p.bb_period, p.bb_width, p.bb_width, 0)
    adx = talib.ADX(h, lo, c, p.adx)
    obv = talib.OBV(c, v)
    ema_f = talib.EMA(c, p.ema_fast)
    ema_s = talib.EMA(c, p.ema_slow)
    vol_avg = talib.SMA(v, p.volume_avg)

    obv_change = np.full_like(obv, np.nan)
    obv_change[p.obv_lag :] = obv[p.obv_lag :] - obv[: -p.obv_lag]
    vol_sum = talib.SUM(v, p.obv_lag)

    typical = (h + lo + c) / 3.0
    pv_sum = talib.SUM(typical * v, p.vwap)
    v_sum = talib.SUM(v, p.vwap)
    vwap = safe_div(pv_sum, v_sum, np.nan)
    no_volume = v_sum == 0
    if no_volume.any():  # indices without volume: VWAP falls back to the typical-price SMA
        vwap[no_volume] = talib.SMA(typical, p.vwap)[no_volume]

    cols = {
        "rsi": rsi,
        "macd": safe_div(macd, atr, 0.0),
        "macd_signal": safe_div(signal, atr, 0.0),
        "macd_hist": safe_div(hist, atr, 0.0),
        "bb_position": safe_div(c - lower, upper - lower, 0.5),
        "atr_normalized": atr / c,
        "adx": adx,
        "obv_trend": safe_div(obv_change, vol_sum, 0.0),
        "vwap_distance": c / vwap - 1.0,
        "ema_fast": c / ema_f - 1.0,
        "ema_slow": c / ema_s - 1.0,
        "volume_ratio": safe_div(v, vol_avg, 1.0),
    }
    return pd.DataFrame({k: cols[k] for k in TECHNICAL_COLUMNS}, index=bars.index)
