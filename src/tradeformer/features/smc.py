"""The 12 smart-money-concept columns, causal: every event is placed on the bar it becomes known.

- Order block (spec rule): bar i is a bullish OB if it is bearish (close < open) and the next
  close exceeds its high by `ob_threshold`; zone [low_i, open_i]. Bearish mirror; zone
  [close_i, high_i]. Known at i+1.
- Fair value gap: bullish at i if low_{i+1} > high_{i-1}, zone [high_{i-1}, low_{i+1}]; bearish
  mirror. Known at i+1.
- Counts: events known within the last `zone_lookback` bars (t included).
- Nearest distances: smallest distance from close_t to any such zone (0 inside it), in ATRs,
  capped at `distance_cap` (also the value when there is no zone).
- Liquidity: the latest swing high (low) with `liquidity_window` bars on each side, known only
  `liquidity_window` bars after it; distance (level - close) / ATR. Before the first swing is
  confirmed, the running high (low) stands in.
- Structure: swing highs/lows with `structure_window` bars each side (again confirmed late). A
  break is the first close beyond the latest confirmed swing level. CHOCH = a break against the
  prevailing structure (the direction of the previous break); BOS = a break with it (or the
  first break).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from tradeformer.features.columns import SMC_COLUMNS
from tradeformer.features.technical import ohlcv_arrays


@dataclass(frozen=True)
class SMCParams:
    ob_threshold: float = 0.02
    zone_lookback: int = 120
    distance_cap: float = 10.0
    liquidity_window: int = 20
    structure_window: int = 5
    atr: int = 14


def lagged(x: np.ndarray, k: int, fill: float = np.nan) -> np.ndarray:
    out = np.full_like(x, fill)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def window_count(events: np.ndarray, window: int) -> np.ndarray:
    """Number of True events in the last `window` bars (t included)."""
    cs = np.cumsum(events, dtype=np.int64)
    out = cs.copy()
    out[window:] -= cs[:-window]
    return out.astype("float64")


def nearest_zone_distance(
    known: np.ndarray,
    bottom: np.ndarray,
    top: np.ndarray,
    close: np.ndarray,
    atr: np.ndarray,
    lookback: int,
    cap: float,
) -> np.ndarray:
    """Distance from close_t to the nearest zone known in (t - lookback, t], in ATRs, capped.

    Zone k (known at bar k, bounds bottom_k..top_k); loops over the `lookback` lags, each a
    few in-place vectorised passes over contiguous slices of all bars.
    """
    n = len(close)
    best = np.full(n, np.inf)
    bot = np.where(known, bottom, np.nan)
    top_ = np.where(known, top, np.nan)
    below = np.empty(n)
    above = np.empty(n)
    for lag in range(min(lookback, n)):
        m = n - lag
        # zone known at k = t - lag; NaN (no zone) is ignored by fmin
        np.subtract(bot[:m], close[lag:], out=below[:m])
        np.subtract(close[lag:], top_[:m], out=above[:m])
        np.maximum(below[:m], above[:m], out=below[:m])
        np.fmin(best[lag:], below[:m], out=best[lag:])
    np.maximum(best, 0.0, out=best)
    out = np.full(n, cap)
    has = np.isfinite(best)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = best[has] / atr[has]  # 0/0 (flat bars inside a zone) -> 0, x/0 -> cap
    out[has] = np.minimum(np.nan_to_num(ratio, nan=0.0, posinf=cap), cap)
    out[np.isnan(atr)] = np.nan
    return out


def confirmed_swings(x: np.ndarray, window: int, high: bool) -> np.ndarray:
    """True at t when x[t - window] is the max (min) of x[t - 2*window .. t]: known at t."""
    w = 2 * window + 1
    ext = talib.MAX(x, w) if high else talib.MIN(x, w)
    centre = lagged(x, window)
    out = centre == ext
    out[: w - 1] = False
    return out


def latest_level(confirm: np.ndarray, level_at_confirm: np.ndarray) -> np.ndarray:
    """Forward-fill of `level_at_confirm` from the bars where `confirm` is True (NaN before)."""
    idx = np.where(confirm, np.arange(len(confirm)), -1)
    idx = np.maximum.accumulate(idx)
    out = np.where(idx >= 0, level_at_confirm[np.maximum(idx, 0)], np.nan)
    return out


def first_break(confirm: np.ndarray, above: np.ndarray) -> np.ndarray:
    """First bar of each level segment (between confirmations) where `above` is True."""
    cs = np.cumsum(above, dtype=np.int64)
    before = np.zeros_like(cs)
    starts = np.flatnonzero(confirm)
    before[starts] = np.where(starts > 0, cs[np.maximum(starts - 1, 0)], 0)
    before = np.maximum.accumulate(before)
    return above & (cs - before == 1)


def structure_breaks(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, window: int
) -> tuple[np.ndarray, ...]:
    """(bos_bull, bos_bear, choch_bull, choch_bear) as booleans."""
    hi_conf = confirmed_swings(h, window, high=True)
    lo_conf = confirmed_swings(lo, window, high=False)
    hi_level = latest_level(hi_conf, lagged(h, window))
    lo_level = latest_level(lo_conf, lagged(lo, window))
    with np.errstate(invalid="ignore"):
        brk_bull = first_break(hi_conf, c > hi_level)
        brk_bear = first_break(lo_conf, c < lo_level)
    direction = np.where(brk_bull & ~brk_bear, 1.0, np.where(brk_bear & ~brk_bull, -1.0, np.nan))
    prevailing = pd.Series(direction).ffill().shift(1).fillna(0.0).to_numpy()
    bos_bull = brk_bull & (prevailing != -1)
    bos_bear = brk_bear & (prevailing != 1)
    choch_bull = brk_bull & (prevailing == -1)
    choch_bear = brk_bear & (prevailing == 1)
    return bos_bull, bos_bear, choch_bull, choch_bear


def order_blocks(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, thr: float):
    """Bullish/bearish OB confirmation masks (at i+1) and zone bounds at confirmation."""
    po, ph, pl, pc = (lagged(x, 1) for x in (o, h, lo, c))
    with np.errstate(invalid="ignore"):
        bull = (c > ph * (1 + thr)) & (pc < po)
        bear = (c < pl * (1 - thr)) & (pc > po)
    bottom = np.where(bull, pl, np.where(bear, pc, np.nan))
    top = np.where(bull, po, np.where(bear, ph, np.nan))
    return bull, bear, bottom, top


def fair_value_gaps(h: np.ndarray, lo: np.ndarray):
    """Bullish/bearish FVG confirmation masks (at i+1) and zone bounds."""
    h2, l2 = lagged(h, 2), lagged(lo, 2)
    with np.errstate(invalid="ignore"):
        bull = lo > h2
        bear = h < l2
    bottom = np.where(bull, h2, np.where(bear, h, np.nan))
    top = np.where(bull, lo, np.where(bear, l2, np.nan))
    return bull, bear, bottom, top


def smc_features(bars: pd.DataFrame, params: SMCParams | None = None) -> pd.DataFrame:
    """12 SMC columns on the bars' index."""
    p = params or SMCParams()
    o, h, lo, c, _ = ohlcv_arrays(bars)
    atr = talib.ATR(h, lo, c, p.atr)

    ob_bull, ob_bear, ob_bot, ob_top = order_blocks(o, h, lo, c, p.ob_threshold)
    fvg_bull, fvg_bear, fvg_bot, fvg_top = fair_value_gaps(h, lo)
    L = p.zone_lookback
    ob_dist = nearest_zone_distance(ob_bull | ob_bear, ob_bot, ob_top, c, atr, L, p.distance_cap)
    fvg_dist = nearest_zone_distance(
        fvg_bull | fvg_bear, fvg_bot, fvg_top, c, atr, L, p.distance_cap
    )

    w = p.liquidity_window
    liq_hi = latest_level(confirmed_swings(h, w, high=True), lagged(h, w))
    liq_lo = latest_level(confirmed_swings(lo, w, high=False), lagged(lo, w))
    liq_hi = np.where(np.isnan(liq_hi), np.maximum.accumulate(h), liq_hi)
    liq_lo = np.where(np.isnan(liq_lo), np.minimum.accumulate(lo), liq_lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        liq_hi_d = np.where(atr > 0, (liq_hi - c) / atr, 0.0)
        liq_lo_d = np.where(atr > 0, (c - liq_lo) / atr, 0.0)
    liq_hi_d[np.isnan(atr)] = np.nan
    liq_lo_d[np.isnan(atr)] = np.nan

    bos_bull, bos_bear, choch_bull, choch_bear = structure_breaks(h, lo, c, p.structure_window)
    cols = {
        "num_bullish_ob": window_count(ob_bull, L),
        "num_bearish_ob": window_count(ob_bear, L),
        "num_bullish_fvg": window_count(fvg_bull, L),
        "num_bearish_fvg": window_count(fvg_bear, L),
        "nearest_ob_distance": ob_dist,
        "nearest_fvg_distance": fvg_dist,
        "liquidity_high_distance": liq_hi_d,
        "liquidity_low_distance": liq_lo_d,
        "bos_bullish": bos_bull.astype("float64"),
        "bos_bearish": bos_bear.astype("float64"),
        "choch_bullish": choch_bull.astype("float64"),
        "choch_bearish": choch_bear.astype("float64"),
    }
    return pd.DataFrame({k: cols[k] for k in SMC_COLUMNS}, index=bars.index)
