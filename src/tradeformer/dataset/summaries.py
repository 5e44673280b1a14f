"""Price-window summaries: what a trailing window of bars says in a few numbers, for a tabular
model (the boosted member, the strongest baseline). Every value at row t reads bars up to t
of its own symbol (rolling windows within the symbol, never across a boundary); the per-date
ranks read date t's values of the symbols present at t.

Columns: trailing log returns over 1/5/10/20/60 bars, 12-1 momentum (252-bar minus 21-bar
return), 20/60-bar volatility and their ratio, distance to the 52-week high and low, the
volume's z-score against its last 20 bars, the overnight gap, log(SMA10 / SMA50),
log(close / SMA200), the day of the week; then each column but the day as its per-date rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.dataset.universe import Universe

RETURN_WINDOWS = (1, 5, 10, 20, 60)
YEAR = 252
MIN_YEAR = 60  # bars of history before the 52-week extremes and SMA200 are defined


def _within(values: np.ndarray, offsets: np.ndarray):
    """A pandas rolling-by-symbol helper: the series grouped by symbol, in row order."""
    sym = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return pd.Series(values, dtype="float64").groupby(sym, sort=False)


def _rolling(values, offsets, window: int, how: str, min_periods: int | None = None):
    roll = _within(values, offsets).rolling(window, min_periods=min_periods or window)
    return getattr(roll, how)().to_numpy()


def _shift(values: np.ndarray, offsets: np.ndarray, k: int) -> np.ndarray:
    """values[t - k] within each symbol (NaN for its first k bars)."""
    out = np.full(len(values), np.nan)
    if k < len(values):
        out[k:] = values[:-k]
    pos = np.arange(len(values)) - np.repeat(offsets[:-1], np.diff(offsets))
    out[pos < k] = np.nan
    return out


def raw_summaries(u: Universe) -> dict[str, np.ndarray]:
    """The per-symbol columns (before ranking), each (N,) float64."""
    o, h, lo, c, v = (u.ohlcv[:, i].astype("float64") for i in range(5))
    off = u.offsets
    log_c = np.log(c)
    out = {f"past_ret_{k}": log_c - _shift(log_c, off, k) for k in RETURN_WINDOWS}
    out["mom_12_1"] = _shift(log_c, off, 21) - _shift(log_c, off, YEAR)
    r1 = out["past_ret_1"]
    out["vol_20"] = _rolling(r1, off, 20, "std")
    out["vol_60"] = _rolling(r1, off, 60, "std")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["vol_ratio"] = out["vol_20"] / out["vol_60"]
        out["dist_52w_high"] = log_c - np.log(_rolling(h, off, YEAR, "max", MIN_YEAR))
        out["dist_52w_low"] = log_c - np.log(_rolling(lo, off, YEAR, "min", MIN_YEAR))
        lv = np.log1p(np.maximum(v, 0.0))
        sd = _rolling(lv, off, 20, "std")
        out["volume_z"] = np.where(sd > 0, (lv - _rolling(lv, off, 20, "mean")) / sd, 0.0)
        out["gap"] = np.log(o) - _shift(log_c, off, 1)
        out["sma_10_50"] = np.log(_rolling(c, off, 10, "mean") / _rolling(c, off, 50, "mean"))
        out["close_sma_200"] = log_c - np.log(_rolling(c, off, 200, "mean", MIN_YEAR))
    out["day_of_week"] = ((u.timestamps // 86_400_000_000_000 + 3) % 7).astype("float64")
    return out


def price_summaries(u: Universe) -> tuple[np.ndarray, list[str]]:
    """(N, F) float32 summaries and their names: the raw columns, then the per-date ranks of
    every column but the day of the week."""
    from tradeformer.dataset.cross_section import cs_rank, date_codes

    raw = raw_summaries(u)
    names = list(raw)
    ranked = [n for n in names if n != "day_of_week"]
    x = np.stack([raw[n] for n in names], axis=1)
    x[~np.isfinite(x)] = np.nan
    ranks = cs_rank(np.stack([raw[n] for n in ranked], axis=1), date_codes(u.timestamps))
    out = np.concatenate([x, ranks], axis=1).astype("float32")
    return out, names + [f"{n}_cs_rank" for n in ranked]
