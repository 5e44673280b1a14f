"""The 12 technical-indicator columns, scale-free, from TA-Lib where it has the indicator.

Formulas and smoothing are documented in docs/features.md. All are causal: the value at bar t
uses bars <= t only (TA-Lib and the rolling sums here are forward recursions).

Every array function takes one symbol's bars, shape (T,), or a panel of symbols, shape (S, T):
the last axis is time and nothing mixes rows, so training (one symbol at a time) and batch
inference (a whole universe at once) run the same code.
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
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    zero = den == 0
    if zero.any():
        out[zero & np.isfinite(num)] = fill
    return out


def ohlcv_arrays(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Contiguous float64 open, high, low, close, volume."""
    return tuple(
        np.ascontiguousarray(bars[c].to_numpy(dtype="float64"))
        for c in ("open", "high", "low", "close", "volume")
    )


def _nan_after(x: np.ndarray, start: int) -> np.ndarray:
    """NaN positions from `start` on (after the warm-up)."""
    m = np.isnan(x)
    m[..., :start] = False
    return m


def talib_rows(fn, *args, **kw):
    """Apply a TA-Lib function along the last axis of (T,) or (S, T) arrays, row by row
    (array arguments are split into rows, scalars passed as they are).

    TA-Lib is a C recursion over one series; a panel of S symbols costs S C calls (a few
    microseconds each), never a Python loop over bars. Multi-output functions return a tuple.
    """
    first = args[0]
    if first.ndim == 1:
        return fn(*args, **kw)
    # TA-Lib's pandas/polars dispatch wrapper (`functools.wraps`) costs more than the C call
    # on a 240-bar row; the rows here are numpy already
    fn = getattr(fn, "__wrapped__", fn)
    out = None
    for i in range(first.shape[0]):
        res = fn(*(a[i] if isinstance(a, np.ndarray) else a for a in args), **kw)
        parts = res if isinstance(res, tuple) else (res,)
        if out is None:
            out = tuple(np.empty(first.shape) for _ in parts)
        for o, r in zip(out, parts, strict=True):
            o[i] = r
    return out if len(out) > 1 else out[0]


def _volume_columns(h, lo, c, v, p: TechnicalParams) -> tuple[np.ndarray, ...]:
    """obv_trend, vwap_distance and volume_ratio (neutral values where volume is 0)."""
    n = c.shape[-1]
    obv = talib_rows(talib.OBV, c, v)
    lag = min(p.obv_lag, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_sum = talib_rows(talib.SUM, v, p.obv_lag)
        # OBV(t) - OBV(t - lag) = signed volume of the last `lag` bars; / their total volume
        obv_trend = np.empty(c.shape)
        obv_trend[..., :lag] = np.nan
        np.subtract(obv[..., lag:], obv[..., : n - lag], out=obv_trend[..., lag:])
        obv_trend /= vol_sum
        # VWAP over the window of typical prices (h + l + c) / 3; distance = close / VWAP - 1
        v_sum = talib_rows(talib.SUM, v, p.vwap)
        v_avg = (
            v_sum / p.volume_avg
            if p.volume_avg == p.vwap
            else talib_rows(talib.SMA, v, p.volume_avg)
        )
        tpv = h + lo
        tpv += c
        tpv *= v
        vwap = talib_rows(talib.SUM, tpv, p.vwap)  # 3 x sum(typical price * volume)
        np.multiply(c, v_sum, out=v_sum)
        v_sum *= 3.0
        vwap_d = np.divide(v_sum, vwap, out=v_sum)
        vwap_d -= 1.0
        ratio = np.divide(v, v_avg, out=v_avg)
    if (v == 0).any():  # only then can a volume sum be 0 (0/0 above)
        obv_trend[_nan_after(obv_trend, lag)] = 0.0
        ratio[_nan_after(ratio, p.volume_avg - 1)] = 1.0
        no_volume = _nan_after(vwap_d, p.vwap - 1)
        if no_volume.any():  # indices without volume: VWAP falls back to the typical-price SMA
            typical = (h + lo + c) / 3.0
            sma = talib_rows(talib.SMA, typical, p.vwap)
            vwap_d[no_volume] = c[no_volume] / sma[no_volume] - 1.0
    return obv_trend, vwap_d, ratio


def technical_arrays(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, p: TechnicalParams
) -> dict[str, np.ndarray]:
    """The 12 columns as float64 arrays shaped like the inputs, (T,) or (S, T), each row
    C-contiguous (the hot path: TA-Lib calls + a few in-place ops).

    Where a denominator is exactly 0 (flat prices, bars without volume) the documented
    neutral value is used; NaN (warm-up) stays NaN.
    """
    rsi = talib_rows(talib.RSI, c, p.rsi)
    macd, signal, hist = talib_rows(talib.MACD, c, p.macd_fast, p.macd_slow, p.macd_signal)
    atr = talib_rows(talib.ATR, h, lo, c, p.atr)
    upper, _, lower = talib_rows(talib.BBANDS, c, p.bb_period, p.bb_width, p.bb_width, 0)
    adx = talib_rows(talib.ADX, h, lo, c, p.adx)
    ema_f = talib_rows(talib.EMA, c, p.ema_fast)
    ema_s = talib_rows(talib.EMA, c, p.ema_slow)

    flat = atr == 0
    flat_macd = flat & ~np.isnan(macd) if flat.any() else None
    obv_trend, vwap_d, ratio = _volume_columns(h, lo, c, v, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        macd /= atr
        signal /= atr
        hist /= atr
        width = upper - lower
        flat_band = width <= 1e-9 * c  # 20 equal closes, up to TA-Lib's rounding (0/0 or x/eps)
        bb = np.subtract(c, lower, out=lower)
        bb /= width
        np.divide(c, ema_f, out=ema_f)
        ema_f -= 1.0
        np.divide(c, ema_s, out=ema_s)
        ema_s -= 1.0
        atr_n = np.divide(atr, c, out=atr)

    if flat_macd is not None:
        for arr in (macd, signal, hist):
            arr[flat_macd] = 0.0
    if flat_band.any():  # zero-width bands: the close sits in the middle
        bb[flat_band] = 0.5
    return {
        "rsi": rsi,
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": hist,
        "bb_position": bb,
        "atr_normalized": atr_n,
        "adx": adx,
        "obv_trend": obv_trend,
        "vwap_distance": vwap_d,
        "ema_fast": ema_f,
        "ema_slow": ema_s,
        "volume_ratio": ratio,
    }


def technical_features(bars: pd.DataFrame, params: TechnicalParams | None = None) -> pd.DataFrame:
    """12 TA columns on the bars' index (NaN during each indicator's warm-up)."""
    _, h, lo, c, v = ohlcv_arrays(bars)
    cols = technical_arrays(h, lo, c, v, params or TechnicalParams())
    return pd.DataFrame(cols, index=bars.index, columns=list(TECHNICAL_COLUMNS), copy=False)
