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

Arrays are one symbol, (T,), or a panel of symbols, (S, T): the last axis is time and rows
never mix (see `technical.talib_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from tradeformer.features.columns import SMC_COLUMNS
from tradeformer.features.technical import ohlcv_arrays, talib_rows


@dataclass(frozen=True)
class SMCParams:
    ob_threshold: float = 0.02
    zone_lookback: int = 120
    distance_cap: float = 10.0
    liquidity_window: int = 20
    structure_window: int = 5
    atr: int = 14


def lagged(x: np.ndarray, k: int, fill: float = np.nan) -> np.ndarray:
    """x shifted k bars later along the last axis (the first k bars get `fill`)."""
    out = np.full_like(x, fill)
    n = x.shape[-1]
    if k < n:
        out[..., k:] = x[..., : n - k]
    return out


def window_count(events: np.ndarray, window: int) -> np.ndarray:
    """Number of True events in the last `window` bars (t included)."""
    cs = np.cumsum(events, axis=-1, dtype=np.int64)
    out = cs.copy()
    out[..., window:] -= cs[..., :-window]
    return out.astype("float64")


def nearest_zone_distance(
    known: np.ndarray,
    bottom: np.ndarray,
    top: np.ndarray,
    close: np.ndarray,
    atr: np.ndarray,
    lookback: int,
    cap: float,
    start: int | np.ndarray = 0,
) -> np.ndarray:
    """Distance from close_t to the nearest zone known in (t - lookback, t], in ATRs, capped.

    Zone k (known at bar k, bounds bottom_k..top_k). Few bars to compute: every (bar, lag)
    pair gathered at once; many: one vectorised pass per lag over contiguous slices of all
    bars (never a window per bar). Only bars t >= `start` are computed (NaN before). A
    per-row `start` (S,) on an (S, T) panel computes bars start_r .. start_r + T - max(start)
    - 1 of each row (the same number per row: e.g. each symbol's last windows, whatever its
    length), from a gathered tail of lookback - 1 + that many bars.
    """
    n = close.shape[-1]
    bot = np.where(known, bottom, np.nan)
    top_ = np.where(known, top, np.nan)
    lags = min(lookback, n)
    if np.ndim(start) == 0:
        start = min(max(int(start), 0), n)
        best = _nearest(bot, top_, close, start, lags)
        computed = np.zeros(n, dtype=bool)
        computed[start:] = True
    else:  # per row: the same computation on each row's tail, put back in place
        s = np.clip(np.asarray(start, dtype=np.int64), 0, n)
        cols = s[:, None] + np.arange(1 - lags, n - s.max())[None, :]
        rows = np.arange(len(s))[:, None]
        inside = cols >= 0
        at = np.clip(cols, 0, n - 1)
        tail = _nearest(
            np.where(inside, bot[rows, at], np.nan),
            np.where(inside, top_[rows, at], np.nan),
            close[rows, at],
            lags - 1,
            lags,
        )
        best = np.full(close.shape, np.inf)
        best[rows, cols[:, lags - 1 :]] = tail[:, lags - 1 :]
        computed = np.zeros(close.shape, dtype=bool)
        computed[rows, cols[:, lags - 1 :]] = True
    np.maximum(best, 0.0, out=best)
    out = np.full(close.shape, cap)
    has = np.isfinite(best)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = best[has] / atr[has]  # 0/0 (flat bars inside a zone) -> 0, x/0 -> cap
    out[has] = np.minimum(np.nan_to_num(ratio, nan=0.0, posinf=cap), cap)
    out[np.isnan(atr)] = np.nan
    out[..., ~computed] = np.nan  # (T,) mask: every row; (S, T): element-wise
    return out


def _nearest(bot: np.ndarray, top: np.ndarray, close: np.ndarray, start: int, lags: int):
    """Smallest raw distance to a zone (inf: none) for bars >= start, by the cheaper strategy."""
    n = close.shape[-1]
    best = np.full(close.shape, np.inf)
    if close.size // max(n, 1) * (n - start) * lags <= GATHER_LIMIT:
        best[..., start:] = _nearest_gathered(bot, top, close, start, lags)
    else:
        _nearest_by_lag(bot, top, close, start, lags, best)
    return best


# below this many (bar, lag) pairs the lags are gathered at once (few bars: one symbol's
# last windows); above it, one vectorised pass per lag over all bars (histories, panels)
GATHER_LIMIT = 250_000


def _nearest_gathered(
    bot: np.ndarray, top: np.ndarray, close: np.ndarray, start: int, lags: int
) -> np.ndarray:
    """Smallest distance to a zone over the last `lags` bars, for bars start..n-1 at once."""
    t = np.arange(start, close.shape[-1])
    k = t[:, None] - np.arange(lags)[None, :]  # (bars, lags): zone known at k = t - lag
    none = k < 0
    k = np.maximum(k, 0)
    c = close[..., t][..., None]
    d = np.maximum(bot[..., k] - c, c - top[..., k])
    d[..., none] = np.nan
    with np.errstate(invalid="ignore"):
        best = np.fmin.reduce(d, axis=-1)  # NaN (no zone) ignored; all NaN -> NaN
    return np.where(np.isnan(best), np.inf, best)


def _nearest_by_lag(
    bot: np.ndarray,
    top_: np.ndarray,
    close: np.ndarray,
    start: int,
    lags: int,
    best: np.ndarray,
) -> None:
    """The same minimum, one in-place pass per lag over contiguous slices (into `best`)."""
    n = close.shape[-1]
    below = np.empty(close.shape)
    above = np.empty(close.shape)
    for lag in range(lags):
        t0 = max(start, lag)  # bars t in [t0, n) meet zones known at t - lag in [t0 - lag, ..)
        k0, m = t0 - lag, n - lag
        np.subtract(bot[..., k0:m], close[..., t0:], out=below[..., k0:m])
        np.subtract(close[..., t0:], top_[..., k0:m], out=above[..., k0:m])
        np.maximum(below[..., k0:m], above[..., k0:m], out=below[..., k0:m])
        # NaN (no zone) is ignored by fmin
        np.fmin(best[..., t0:], below[..., k0:m], out=best[..., t0:])


def confirmed_swings(x: np.ndarray, window: int, high: bool) -> np.ndarray:
    """True at t when x[t - window] is the max (min) of x[t - 2*window .. t]: known at t."""
    w = 2 * window + 1
    ext = talib_rows(talib.MAX if high else talib.MIN, x, w)
    centre = lagged(x, window)
    out = centre == ext
    out[..., : w - 1] = False
    return out


def latest_level(confirm: np.ndarray, level_at_confirm: np.ndarray) -> np.ndarray:
    """Forward-fill of `level_at_confirm` from the bars where `confirm` is True (NaN before)."""
    idx = last_true_index(confirm)
    level = np.take_along_axis(level_at_confirm, np.maximum(idx, 0), axis=-1)
    return np.where(idx >= 0, level, np.nan)


def last_true_index(mask: np.ndarray) -> np.ndarray:
    """Index of the latest True at or before each position along the last axis (-1: none)."""
    idx = np.where(mask, np.arange(mask.shape[-1]), -1)
    return np.maximum.accumulate(idx, axis=-1)


def forward_fill(x: np.ndarray) -> np.ndarray:
    """NaNs replaced by the latest earlier non-NaN value along the last axis (NaN before)."""
    idx = last_true_index(~np.isnan(x))
    return np.where(idx >= 0, np.take_along_axis(x, np.maximum(idx, 0), axis=-1), np.nan)


def first_break(confirm: np.ndarray, above: np.ndarray) -> np.ndarray:
    """First bar of each level segment (between confirmations) where `above` is True."""
    cs = np.cumsum(above, axis=-1, dtype=np.int64)
    # breaks counted before each confirmation bar, carried forward (cs never decreases)
    before = np.where(confirm, lagged(cs, 1, fill=0), 0)
    before = np.maximum.accumulate(before, axis=-1)
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
    prevailing = np.nan_to_num(lagged(forward_fill(direction), 1), nan=0.0)
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
    o, h, lo, c, _ = ohlcv_arrays(bars)
    cols = smc_arrays(o, h, lo, c, params or SMCParams())
    return pd.DataFrame({k: cols[k] for k in SMC_COLUMNS}, index=bars.index)


def smc_arrays(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    p: SMCParams,
    start: int | np.ndarray = 0,
) -> dict[str, np.ndarray]:
    """The 12 columns as float64 arrays shaped like the inputs, (T,) or (S, T); the zone
    distances only from bar `start` on (NaN before, see `nearest_zone_distance`)."""
    atr = talib_rows(talib.ATR, h, lo, c, p.atr)

    ob_bull, ob_bear, ob_bot, ob_top = order_blocks(o, h, lo, c, p.ob_threshold)
    fvg_bull, fvg_bear, fvg_bot, fvg_top = fair_value_gaps(h, lo)
    L = p.zone_lookback
    cap = p.distance_cap
    ob_dist = nearest_zone_distance(ob_bull | ob_bear, ob_bot, ob_top, c, atr, L, cap, start)
    fvg_dist = nearest_zone_distance(fvg_bull | fvg_bear, fvg_bot, fvg_top, c, atr, L, cap, start)

    w = p.liquidity_window
    liq_hi = latest_level(confirmed_swings(h, w, high=True), lagged(h, w))
    liq_lo = latest_level(confirmed_swings(lo, w, high=False), lagged(lo, w))
    liq_hi = np.where(np.isnan(liq_hi), np.maximum.accumulate(h, axis=-1), liq_hi)
    liq_lo = np.where(np.isnan(liq_lo), np.minimum.accumulate(lo, axis=-1), liq_lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        liq_hi_d = np.where(atr > 0, (liq_hi - c) / atr, 0.0)
        liq_lo_d = np.where(atr > 0, (c - liq_lo) / atr, 0.0)
    liq_hi_d[np.isnan(atr)] = np.nan
    liq_lo_d[np.isnan(atr)] = np.nan

    bos_bull, bos_bear, choch_bull, choch_bear = structure_breaks(h, lo, c, p.structure_window)
    return {
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
