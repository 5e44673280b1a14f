"""Session-aware resampling of bars to 1H, 4H, 1D, 1W and 1M.

Intraday buckets are anchored at each session's open (US equities: 1H = 09:30, 10:30, ...,
15:30-16:00; 4H = the session halves 09:30-13:30 and 13:30-16:00), never at wall-clock hours.
Every output bar carries `available_at` (UTC): the moment it is complete and may be used, and
`complete` (False for a final bar whose period the data does not cover).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.data.schema import TIMESTAMP, Timeframe, to_ns
from tradeformer.data.sessions import (
    DEFAULT_CALENDAR,
    bar_end_times,
    calendar_for,
    session_bounds,
    session_dates,
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


def _period_frame(dates: pd.Series, to: Timeframe) -> pd.Series:
    freq = "W-SUN" if to is Timeframe.W1 else "M"
    return dates.dt.to_period(freq)


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
    ts = frame[TIMESTAMP]
    if len(frame) == 0:
        raise ValueError("cannot resample an empty frame")
    first = ts.iloc[0].tz_localize(None) if src.is_intraday else ts.iloc[0]
    cal = calendar_for(calendar, first)
    order = list(Timeframe)
    if order.index(to) < order.index(src):
        raise ValueError(f"cannot resample {src.value} bars to the finer {to.value}")
    if src is Timeframe.W1 and to is Timeframe.MO1:
        raise ValueError("weeks straddle months: resample 1M from daily or intraday bars")
    if src.is_intraday and to.is_intraday and to.minutes % src.minutes:
        raise ValueError(f"{to.value} is not a multiple of {src.value}")

    dates = session_dates(ts, cal)
    opens, closes, _ = session_bounds(dates, cal)
    closes = pd.to_datetime(closes, utc=True)
    bar_end = bar_end_times(ts, src.minutes if src.is_intraday else None, cal)
    data_end = bar_end.iloc[-1]

    if to.is_intraday:
        step = pd.Timedelta(minutes=to.minutes)
        opens = pd.to_datetime(opens, utc=True)
        k = (ts - opens) // step
        start = opens + k * step
        keys = to_ns(start)
        out, first = _aggregate(frame, keys)
        bstart = start.iloc[first].reset_index(drop=True)
        bend = pd.concat([bstart + step, closes.iloc[first].reset_index(drop=True)], axis=1).min(
            axis=1
        )
        out.insert(0, TIMESTAMP, bstart)
        out["available_at"] = bend
    elif to is Timeframe.D1:
        keys = to_ns(dates)
        out, first = _aggregate(frame, keys)
        out.insert(0, TIMESTAMP, dates.iloc[first].reset_index(drop=True))
        out["available_at"] = closes.iloc[first].reset_index(drop=True)
    else:
        periods = _period_frame(dates, to)
        keys = to_ns(periods.dt.start_time)
        out, first = _aggregate(frame, keys)
        pstart = periods.iloc[first].reset_index(drop=True)
        out.insert(0, TIMESTAMP, pstart.dt.start_time.astype("datetime64[ns]"))
        sched = cal.schedule
        sched_periods = sched.index.to_period("W-SUN" if to is Timeframe.W1 else "M")
        last_close = sched["close"].groupby(sched_periods).max()
        scheduled = pd.Series(last_close.reindex(pd.PeriodIndex(pstart)).to_numpy())
        observed = closes.groupby(periods.to_numpy()).max()
        fallback = pd.Series(observed.reindex(pd.PeriodIndex(pstart)).to_numpy())
        out["available_at"] = pd.to_datetime(scheduled.fillna(fallback), utc=True)
    out["available_at"] = pd.to_datetime(out["available_at"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    out["complete"] = (out["available_at"] <= data_end).to_numpy()
    if src.is_intraday and to.is_intraday:
        out[TIMESTAMP] = pd.to_datetime(out[TIMESTAMP], utc=True).astype("datetime64[ns, UTC]")
    return out


def with_available_at(
    frame: pd.DataFrame, *, source: str | None = None, calendar: str = DEFAULT_CALENDAR
) -> pd.DataFrame:
    """The bars with an `available_at` column (UTC time each bar is complete)."""
    tf = Timeframe.parse(source or infer_timeframe(frame[TIMESTAMP]))
    ts = frame[TIMESTAMP]
    first = ts.iloc[0].tz_localize(None) if tf.is_intraday else ts.iloc[0]
    cal = calendar_for(calendar, first)
    out = frame.copy()
    out["available_at"] = bar_end_times(ts, tf.minutes if tf.is_intraday else None, cal)
    return out
