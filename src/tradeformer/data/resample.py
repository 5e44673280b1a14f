"""Session-aware resampling of bars to 1H, 4H, 1D, 1W and 1M.

Intraday buckets are anchored at each session's open (US equities: 1H = 09:30, 10:30, ...,
15:30-16:00; 4H = the session halves 09:30-13:30 and 13:30-16:00), never at wall-clock hours.
Every output bar carries `available_at` (UTC): the moment it is complete and may be used, and
`complete` (False for a final bar whose period the data does not cover). Vectorised in int64
nanoseconds: no Python loop over bars or groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.data.schema import TIMESTAMP, Timeframe, to_ns
from tradeformer.data.sessions import (
    DEFAULT_CALENDAR,
    SessionTable,
    bar_end_ns,
    month_start_ns,
    table_for,
    week_start_ns,
)
from tradeformer.data.timeframes import infer_timeframe

RESAMPLED_COLUMNS = (
    TIMESTAMP,
    "open",
    "high",
    "low",
    "close",
    "volume",
    "n_bars",
    "available_at",
    "complete",
)


def _aggregate(frame: pd.DataFrame, keys: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """OHLCV of consecutive runs of equal keys (keys are non-decreasing)."""
    n = len(keys)
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    ends = np.r_[starts[1:], n]
    h = frame["high"].to_numpy(dtype="float64")
    lo = frame["low"].to_numpy(dtype="float64")
    v = frame["volume"].to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "open": frame["open"].to_numpy(dtype="float64")[starts],
            "high": np.maximum.reduceat(h, starts),
            "low": np.minimum.reduceat(lo, starts),
            "close": frame["close"].to_numpy(dtype="float64")[ends - 1],
            "volume": np.add.reduceat(v, starts),
            "n_bars": (ends - starts).astype("int64"),
        }
    )
    if "adj_close" in frame.columns:
        out.insert(4, "adj_close", frame["adj_close"].to_numpy(dtype="float64")[ends - 1])
    return out, starts


def _bucket_keys(
    ts: np.ndarray, src: Timeframe, to: Timeframe, table: SessionTable
) -> tuple[np.ndarray, ...]:
    """Key (start, int64 ns) of the `to` bucket of every bar, with session day, bar end, close."""
    day, bar_end = bar_end_ns(ts, src.is_intraday, src.minutes if src.is_intraday else None, table)
    opens, closes, _ = table.bounds(day)
    if to.is_intraday:
        step = to.minutes * 60 * 10**9
        keys = opens + (ts - opens) // step * step
    elif to is Timeframe.D1:
        keys = day
    elif to is Timeframe.W1:
        keys = week_start_ns(day)
    else:
        keys = month_start_ns(day)
    return keys, day, bar_end, closes


def period_keys(
    frame: pd.DataFrame,
    to: str | Timeframe,
    *,
    source: str | Timeframe,
    calendar: str = DEFAULT_CALENDAR,
) -> np.ndarray:
    """Bucket key of every bar for timeframe `to` (bars with equal keys form one `to` bar)."""
    return period_keys_ns(to_ns(frame[TIMESTAMP]), to, source=source, calendar=calendar)


def period_keys_ns(
    ts: np.ndarray,
    to: str | Timeframe,
    *,
    source: str | Timeframe,
    calendar: str = DEFAULT_CALENDAR,
) -> np.ndarray:
    """`period_keys` of int64 ns timestamps of any shape (e.g. a (symbols, bars) panel)."""
    to = Timeframe.parse(to) if isinstance(to, str) else to
    src = Timeframe.parse(source) if isinstance(source, str) else source
    flat = np.asarray(ts, dtype=np.int64).ravel()
    table = table_for(calendar, pd.Timestamp(int(flat.min())))
    return _bucket_keys(flat, src, to, table)[0].reshape(np.shape(ts))


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


def resample(
    frame: pd.DataFrame,
    to: str | Timeframe,
    *,
    source: str | Timeframe | None = None,
    calendar: str = DEFAULT_CALENDAR,
) -> pd.DataFrame:
    """Resample one symbol's bars (sorted, validated) to a coarser timeframe `to`.

    `timestamp` of an output bar is its start: a UTC instant for intraday targets, the session
    date for 1D, the period's first calendar day (Monday / the 1st) for 1W and 1M.
    """
    to = Timeframe.parse(to) if isinstance(to, str) else to
    src = source or infer_timeframe(frame[TIMESTAMP])
    src = Timeframe.parse(src) if isinstance(src, str) else src
    if len(frame) == 0:
        raise ValueError("cannot resample an empty frame")
    order = list(Timeframe)
    if order.index(to) < order.index(src):
        raise ValueError(f"cannot resample {src.value} bars to the finer {to.value}")
    if src is Timeframe.W1 and to is Timeframe.MO1:
        raise ValueError("weeks straddle months: resample 1M from daily or intraday bars")
    if src.is_intraday and to.is_intraday and to.minutes % src.minutes:
        raise ValueError(f"{to.value} is not a multiple of {src.value}")

    ts = to_ns(frame[TIMESTAMP])
    table = table_for(calendar, pd.Timestamp(ts[0]))
    keys, _, bar_end, closes = _bucket_keys(ts, src, to, table)
    data_end = bar_end[-1]
    out, first = _aggregate(frame, keys)
    pkeys = keys[first]
    if to.is_intraday:
        step = to.minutes * 60 * 10**9
        out.insert(0, TIMESTAMP, _utc(pkeys))
        avail = np.minimum(pkeys + step, closes[first])
    elif to is Timeframe.D1:
        out.insert(0, TIMESTAMP, pd.DatetimeIndex(pkeys.astype("datetime64[ns]")))
        avail = closes[first]
    else:
        out.insert(0, TIMESTAMP, pd.DatetimeIndex(pkeys.astype("datetime64[ns]")))
        avail = table.period_close(pkeys, to is Timeframe.W1)
        # periods the calendar does not cover: the last observed session close
        ends = np.r_[first[1:], len(keys)] - 1
        avail = np.where(avail < 0, np.maximum.accumulate(closes)[ends], avail)
    out["available_at"] = _utc(avail)
    out["complete"] = avail <= data_end
    return out


def with_available_at(
    frame: pd.DataFrame, *, source: str | None = None, calendar: str = DEFAULT_CALENDAR
) -> pd.DataFrame:
    """The bars with an `available_at` column (UTC time each bar is complete)."""
    tf = Timeframe.parse(source or infer_timeframe(frame[TIMESTAMP]))
    ts = to_ns(frame[TIMESTAMP])
    table = table_for(calendar, pd.Timestamp(ts[0]))
    _, end = bar_end_ns(ts, tf.is_intraday, tf.minutes if tf.is_intraday else None, table)
    out = frame.copy()
    out["available_at"] = _utc(end)
    return out
