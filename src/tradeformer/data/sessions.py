"""Trading sessions from `exchange_calendars`: session date, open and close of every bar."""

from __future__ import annotations

from functools import lru_cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

DEFAULT_CALENDAR = "XNYS"


@lru_cache(maxsize=8)
def get_calendar(name: str = DEFAULT_CALENDAR, start_year: int = 1980) -> xcals.ExchangeCalendar:
    """An exchange calendar (`XNYS`, `XLON`, `24/7`, ...) from `start_year` to next year."""
    try:
        return xcals.get_calendar(name, start=f"{start_year}-01-01")
    except xcals.errors.InvalidCalendarName as e:  # pragma: no cover - message passthrough
        raise ValueError(f"unknown trading calendar {name!r}: {e}") from e
    except ValueError:
        # some calendars cannot start that early: use their own first session
        return xcals.get_calendar(name)


def calendar_for(name: str, first: pd.Timestamp) -> xcals.ExchangeCalendar:
    year = min(1980, int(pd.Timestamp(first).year) - 1)
    return get_calendar(name, max(year, 1900))


def session_dates(ts: pd.Series, calendar: xcals.ExchangeCalendar) -> pd.Series:
    """Session date (naive midnight) of each bar: the local date for intraday, as is for daily."""
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        return ts.dt.tz_convert(calendar.tz).dt.tz_localize(None).dt.normalize()
    return ts.dt.normalize()


def session_bounds(dates: pd.Series, calendar: xcals.ExchangeCalendar) -> tuple[pd.Series, ...]:
    """UTC open and close of each session date; dates the calendar lacks get its usual hours.

    Returns (open, close, known) where `known` is False for dates that are not sessions.
    """
    sched = calendar.schedule
    uniq = pd.DatetimeIndex(dates.unique())
    opens = sched["open"].reindex(uniq)
    closes = sched["close"].reindex(uniq)
    known = opens.notna()
    if not known.all():
        tail = sched.tail(250)
        local_open = (
            (tail["open"].dt.tz_convert(calendar.tz) - tail.index.tz_localize(calendar.tz))
            .mode()
            .iloc[0]
        )
        local_close = (
            (tail["close"].dt.tz_convert(calendar.tz) - tail.index.tz_localize(calendar.tz))
            .mode()
            .iloc[0]
        )
        base = uniq[~known.to_numpy()].tz_localize(calendar.tz)
        opens[~known] = (base + local_open).tz_convert("UTC")
        closes[~known] = (base + local_close).tz_convert("UTC")
    idx = pd.DatetimeIndex(dates)
    o = pd.Series(opens.reindex(idx).to_numpy(), index=dates.index)
    c = pd.Series(closes.reindex(idx).to_numpy(), index=dates.index)
    k = pd.Series(known.reindex(idx).to_numpy(dtype=bool), index=dates.index)
    return o, c, k


def bar_end_times(
    ts: pd.Series, step_minutes: int | None, calendar: xcals.ExchangeCalendar
) -> pd.Series:
    """UTC time at which each bar is complete (known).

    Daily bars: the session close. Intraday bars: `start + step`, capped at the session close;
    the last bar of every session but the final one in the data ends at the close (a session's
    final bar may be short, e.g. 15:30-16:00, or longer on a half-day).
    """
    dates = session_dates(ts, calendar)
    _, close, _ = session_bounds(dates, calendar)
    close = pd.to_datetime(close, utc=True)
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        return close
    if step_minutes is None:
        raise ValueError("intraday bars need their step in minutes")
    end = ts + pd.Timedelta(minutes=step_minutes)
    end = end.where(end < close, close)
    d = dates.to_numpy()
    last_of_session = np.r_[d[1:] != d[:-1], False]
    return end.where(~last_of_session, close)
