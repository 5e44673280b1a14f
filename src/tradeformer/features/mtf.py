"""The 5 multi-timeframe alignment columns (1M, 1W, 1D, 4H, 1H).

For each timeframe and bar t: EMA(9) and EMA(21) (pandas `ewm(span)`, adjust=True as in the
spec) over that timeframe's *completed* bars plus the bar in progress, whose close as of t is
close_t. Bias = +1 if close > EMA9 > EMA21, -1 if close < EMA9 < EMA21, else 0. This is what the
spec's `compute_mtf_alignment` returns when run on the bars up to t, computed for all t at once.

Timeframes coarser than (or equal to) the bars are derived from them; finer ones need intraday
bars (`intraday=`), aligned by the time each bar is complete. Without them the column is 0 and
`MTFInfo.available[tf]` is False: recorded, never faked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from tradeformer.data.resample import period_keys, period_keys_ns, with_available_at
from tradeformer.data.schema import TIMESTAMP, Timeframe, to_ns
from tradeformer.data.timeframes import infer_timeframe
from tradeformer.features.columns import MTF_COLUMNS, MTF_TIMEFRAMES


@dataclass(frozen=True)
class MTFParams:
    ema_fast: int = 9
    ema_slow: int = 21
    calendar: str = "XNYS"


@dataclass
class MTFInfo:
    """How each MTF column was obtained: 'bars', 'derived', 'intraday' or 'unavailable'."""

    source: dict[str, str] = field(default_factory=dict)
    coverage: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def available(self) -> dict[str, bool]:
        return {tf: s != "unavailable" for tf, s in self.source.items()}

    def to_dict(self) -> dict:
        return {"source": self.source, "available": self.available, "coverage": self.coverage}


def run_index(keys: np.ndarray) -> np.ndarray:
    """0-based index of the run of equal consecutive keys each element belongs to (last axis)."""
    out = np.zeros(keys.shape, dtype=np.int64)
    np.cumsum(keys[..., 1:] != keys[..., :-1], axis=-1, out=out[..., 1:])
    return out


def partial_ema(close: np.ndarray, run: np.ndarray, span: int) -> np.ndarray:
    """EMA (adjust=True) over completed higher-timeframe closes plus close_t as the open bar.

    `run[t]` is the index of the higher-timeframe bar containing t; that bar's close is the
    close of its last member. With N_j, D_j the EMA numerator/denominator after bar j:
    ema_t = (close_t + beta * N_{j-1}) / (1 + beta * D_{j-1}). Shapes (T,) or (S, T): N is
    one `scipy.signal.lfilter` recursion over every row at once (the closes of a row's runs
    are contiguous: pandas' `ewm(adjust=True)` gives the same EMA, tests/features/test_mtf.py).
    """
    alpha = 2.0 / (span + 1.0)
    beta = 1.0 - alpha
    c2, r2 = np.atleast_2d(close), np.atleast_2d(run)
    last = np.ones(r2.shape, dtype=bool)
    last[:, :-1] = r2[:, 1:] != r2[:, :-1]
    tf_close = np.full((r2.shape[0], int(r2[:, -1].max()) + 1), np.nan)
    tf_close[np.nonzero(last)[0], r2[last]] = c2[last]  # NaN after a row's last run
    # N_j = close_j + beta * N_{j-1}; positions after a row's last run are never read
    num = lfilter([1.0], [1.0, -beta], np.nan_to_num(tf_close), axis=-1)
    den = (1.0 - beta ** np.arange(1, tf_close.shape[1] + 1)) / alpha
    prev = np.maximum(r2 - 1, 0)
    first = r2 == 0
    n_prev = np.where(first, 0.0, np.take_along_axis(num, prev, axis=-1))
    d_prev = np.where(first, 0.0, den[prev])
    return ((c2 + beta * n_prev) / (1.0 + beta * d_prev)).reshape(np.shape(close))


def bias(close: np.ndarray, fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    up = (close > fast) & (fast > slow)
    down = (close < fast) & (fast < slow)
    return np.where(up, 1.0, np.where(down, -1.0, 0.0))


@lru_cache(maxsize=256)
def _finer(a: str, b: str) -> bool:
    order = [t.value for t in Timeframe]
    return order.index(Timeframe.parse(a).value) < order.index(Timeframe.parse(b).value)


def alignment(ts: np.ndarray, close: np.ndarray, tf: str, base: str, p: MTFParams) -> np.ndarray:
    """Bias of timeframe `tf` (not finer than `base`) at every bar; (T,) or (S, T) arrays."""
    return mtf_arrays(ts, close, base, p, timeframes=(tf,))[..., 0]


def _runs(ts: np.ndarray, close: np.ndarray, tf: str, base: str, p: MTFParams) -> np.ndarray:
    if Timeframe.parse(tf).value == Timeframe.parse(base).value:
        return np.broadcast_to(np.arange(close.shape[-1]), close.shape)
    return run_index(period_keys_ns(ts, tf, source=base, calendar=p.calendar))


def _alignment(bars: pd.DataFrame, tf: str, base: str, p: MTFParams) -> np.ndarray:
    c = bars["close"].to_numpy(dtype="float64")
    return alignment(to_ns(bars[TIMESTAMP]), c, tf, base, p)


def mtf_arrays(
    ts: np.ndarray,
    close: np.ndarray,
    base: str,
    p: MTFParams,
    timeframes: tuple[str, ...] = MTF_TIMEFRAMES,
) -> np.ndarray:
    """(..., T, len(timeframes)) alignments; timeframes finer than `base` are 0 (they need
    intraday bars: `intraday_alignment`). All timeframes' EMAs in one call per span."""
    out = np.zeros((*close.shape, len(timeframes)))
    cols = [k for k, tf in enumerate(timeframes) if not _finer(tf, base)]
    if not cols:
        return out
    c2 = np.atleast_2d(close)
    runs = np.concatenate([np.atleast_2d(_runs(ts, close, timeframes[k], base, p)) for k in cols])
    closes = np.concatenate([c2] * len(cols))
    fast = partial_ema(closes, runs, p.ema_fast)
    slow = partial_ema(closes, runs, p.ema_slow)
    b = bias(closes, fast, slow)
    n = c2.shape[0]
    for j, k in enumerate(cols):
        out[..., k] = b[j * n : (j + 1) * n].reshape(close.shape)
    return out


def mtf_features(
    bars: pd.DataFrame,
    *,
    timeframe: str | None = None,
    intraday: pd.DataFrame | None = None,
    intraday_timeframe: str | None = None,
    params: MTFParams | None = None,
) -> tuple[pd.DataFrame, MTFInfo]:
    """5 MTF columns on the bars' index, and how each was obtained."""
    p = params or MTFParams()
    base = Timeframe.parse(timeframe or infer_timeframe(bars[TIMESTAMP])).value
    c = bars["close"].to_numpy(dtype="float64")
    out = mtf_arrays(to_ns(bars[TIMESTAMP]), c, base, p)
    info = intraday_alignment(out, bars, base, intraday, intraday_timeframe, p)
    return pd.DataFrame(out, index=bars.index, columns=list(MTF_COLUMNS)), info


def intraday_alignment(
    out: np.ndarray,
    bars: pd.DataFrame,
    base: str,
    intraday: pd.DataFrame | None,
    intraday_timeframe: str | None,
    p: MTFParams,
) -> MTFInfo:
    """Fill the columns finer than `base` of one symbol's (T, 5) `out` from its intraday bars
    (where there are any) and say how every column was obtained."""
    info = MTFInfo()
    fine_src = None
    if intraday is not None and len(intraday):
        fine_src = Timeframe.parse(intraday_timeframe or infer_timeframe(intraday[TIMESTAMP])).value
    span = [str(bars[TIMESTAMP].iloc[0]), str(bars[TIMESTAMP].iloc[-1])]
    for k, tf in enumerate(MTF_TIMEFRAMES):
        if not _finer(tf, base):
            info.source[tf] = "bars" if Timeframe.parse(tf).value == base else "derived"
            info.coverage[tf] = span
        elif fine_src is not None and not _finer(tf, fine_src):
            vals, covered = _from_intraday(bars, base, intraday, fine_src, tf, p)
            out[:, k] = vals
            info.source[tf] = "intraday" if covered.any() else "unavailable"
            ts = bars[TIMESTAMP][covered]
            info.coverage[tf] = [str(ts.iloc[0]), str(ts.iloc[-1])] if len(ts) else [None, None]
        else:
            info.source[tf] = "unavailable"
            info.coverage[tf] = [None, None]
    return info


def _from_intraday(
    bars: pd.DataFrame, base: str, intraday: pd.DataFrame, src: str, tf: str, p: MTFParams
) -> tuple[np.ndarray, np.ndarray]:
    """State of `tf` from intraday bars as of each base bar's completion (same session only)."""
    fine = _alignment(intraday, tf, src, p)
    fine_end = to_ns(with_available_at(intraday, source=src, calendar=p.calendar)["available_at"])
    base_end = to_ns(with_available_at(bars, source=base, calendar=p.calendar)["available_at"])
    i = np.searchsorted(fine_end, base_end, side="right") - 1
    ok = i >= 0
    # the intraday bar must belong to the base bar's own period (no stale state across gaps)
    base_key = period_keys(bars, "1D", source=base, calendar=p.calendar)
    fine_key = period_keys(intraday, "1D", source=src, calendar=p.calendar)
    ok &= fine_key[np.maximum(i, 0)] == base_key
    return np.where(ok, fine[np.maximum(i, 0)], 0.0), ok
