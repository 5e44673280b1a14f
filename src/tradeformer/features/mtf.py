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

import numpy as np
import pandas as pd

from tradeformer.data.resample import period_keys, with_available_at
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
    """0-based index of the run of equal consecutive keys each element belongs to."""
    return np.r_[0, np.cumsum(keys[1:] != keys[:-1])]


def partial_ema(close: np.ndarray, run: np.ndarray, span: int) -> np.ndarray:
    """EMA (adjust=True) over completed higher-timeframe closes plus close_t as the open bar.

    `run[t]` is the index of the higher-timeframe bar containing t; that bar's close is the
    close of its last member. With N_j, D_j the EMA numerator/denominator after bar j:
    ema_t = (close_t + beta * N_{j-1}) / (1 + beta * D_{j-1}).
    """
    alpha = 2.0 / (span + 1.0)
    beta = 1.0 - alpha
    last = np.r_[np.flatnonzero(run[1:] != run[:-1]), len(run) - 1]
    tf_close = close[last]
    ema = pd.Series(tf_close).ewm(span=span, adjust=True).mean().to_numpy()
    j = np.arange(len(tf_close))
    den = (1.0 - beta ** (j + 1)) / alpha
    num = ema * den
    prev = run - 1
    n_prev = np.where(prev >= 0, num[np.maximum(prev, 0)], 0.0)
    d_prev = np.where(prev >= 0, den[np.maximum(prev, 0)], 0.0)
    return (close + beta * n_prev) / (1.0 + beta * d_prev)


def bias(close: np.ndarray, fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    up = (close > fast) & (fast > slow)
    down = (close < fast) & (fast < slow)
    return np.where(up, 1.0, np.where(down, -1.0, 0.0))


def _finer(a: str, b: str) -> bool:
    order = [t.value for t in Timeframe]
    return order.index(Timeframe.parse(a).value) < order.index(Timeframe.parse(b).value)


def _alignment(bars: pd.DataFrame, tf: str, base: str, p: MTFParams) -> np.ndarray:
    c = bars["close"].to_numpy(dtype="float64")
    if Timeframe.parse(tf).value == Timeframe.parse(base).value:
        run = np.arange(len(c))
    else:
        run = run_index(period_keys(bars, tf, source=base, calendar=p.calendar))
    return bias(c, partial_ema(c, run, p.ema_fast), partial_ema(c, run, p.ema_slow))


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
    info = MTFInfo()
    out = np.zeros((len(bars), len(MTF_TIMEFRAMES)))
    fine_src = None
    if intraday is not None and len(intraday):
        fine_src = Timeframe.parse(intraday_timeframe or infer_timeframe(intraday[TIMESTAMP])).value
    for k, tf in enumerate(MTF_TIMEFRAMES):
        if not _finer(tf, base):
            out[:, k] = _alignment(bars, tf, base, p)
            info.source[tf] = "bars" if Timeframe.parse(tf).value == base else "derived"
            info.coverage[tf] = [str(bars[TIMESTAMP].iloc[0]), str(bars[TIMESTAMP].iloc[-1])]
        elif fine_src is not None and not _finer(tf, fine_src):
            vals, covered = _from_intraday(bars, base, intraday, fine_src, tf, p)
            out[:, k] = vals
            info.source[tf] = "intraday" if covered.any() else "unavailable"
            ts = bars[TIMESTAMP][covered]
            info.coverage[tf] = [str(ts.iloc[0]), str(ts.iloc[-1])] if len(ts) else [None, None]
        else:
            info.source[tf] = "unavailable"
            info.coverage[tf] = [None, None]
    return pd.DataFrame(out, index=bars.index, columns=list(MTF_COLUMNS)), info


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
