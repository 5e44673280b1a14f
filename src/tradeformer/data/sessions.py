"""Trading sessions from `exchange_calendars`, as int64 arrays for vectorised lookups.

A `SessionTable` holds every session's date, open and close (UTC nanoseconds) and the last
scheduled close of every week and month, so that the end of any bar or period is one
`searchsorted` away. Dates the calendar does not list get the calendar's usual hours.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from tradeformer.errors import InputError

DEFAULT_CALENDAR = "XNYS"
DAY_NS = 86_400 * 10**9


def week_start_ns(day_ns: np.ndarray) -> np.ndarray:
    """Monday of the week of each naive-midnight day (1970-01-01 was a Thursday)."""
    days = day_ns // DAY_NS
    return (days - (days + 3) % 7) * DAY_NS


def month_start_ns(day_ns: np.ndarray) -> np.ndarray:
    """First calendar day of the month of each naive-midnight day."""
    m = day_ns.astype("datetime64[ns]").astype("datetime64[M]")
    return m.astype("datetime64[ns]").view("int64")


@dataclass(frozen=True)
class SessionTable:
    """Session dates and bounds of one calendar (all int64 ns; dates are naive midnights)."""

    name: str
    tz: str
    day: np.ndarray
    open: np.ndarray
    close: np.ndarray
    usual_open: int  # ns after local midnight
    usual_close: int
    week_key: np.ndarray
    week_close: np.ndarray
    month_key: np.ndarray
    month_close: np.ndarray

    def bounds(self, day_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """UTC open and close (ns) of each session date, and whether the calendar lists it."""
        i = np.searchsorted(self.day, day_ns).clip(0, len(self.day) - 1)
        known = self.day[i] == day_ns
        o = np.where(known, self.open[i], 0)
        c = np.where(known, self.close[i], 0)
        if not known.all():
            fo, fc = self._usual(day_ns[~known])
            o[~known], c[~known] = fo, fc
        return o, c, known

    def _usual(self, day_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = pd.DatetimeIndex(day_ns.astype("datetime64[ns]"))
        o = (local + pd.Timedelta(self.usual_open)).tz_localize(
            self.tz, nonexistent="shift_forward"
        )
        c = (local + pd.Timedelta(self.usual_close)).tz_localize(
            self.tz, nonexistent="shift_forward"
        )
        return _ns(o), _ns(c)

    def period_close(self, keys: np.ndarray, weekly: bool) -> np.ndarray:
        """Last scheduled close (ns) of the weeks/months starting at `keys`; -1 if unknown."""
        k, v = (self.week_key, self.week_close) if weekly else (self.month_key, self.month_close)
        i = np.searchsorted(k, keys).clip(0, len(k) - 1)
        return np.where(k[i] == keys, v[i], -1)

    def local_day(self, utc_ns: np.ndarray) -> np.ndarray:
        """Local session date (naive midnight ns) of UTC instants."""
        idx = pd.DatetimeIndex(utc_ns.astype("datetime64[ns]")).tz_localize("UTC")
        wall = _ns(idx.tz_convert(self.tz).tz_localize(None))
        return wall - wall % DAY_NS


def _ns(idx: pd.DatetimeIndex) -> np.ndarray:
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return np.asarray(idx.as_unit("ns").asi8)


def _group_max(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    return keys[starts], np.maximum.reduceat(values, starts)


@lru_cache(maxsize=16)
def session_table(name: str = DEFAULT_CALENDAR, start_year: int = 1980) -> SessionTable:
    """The SessionTable of an exchange calendar (`XNYS`, `XLON`, `24/7`, ...)."""
    with warnings.catch_warnings():  # pandas deprecations raised inside exchange_calendars
        warnings.simplefilter("ignore")
        try:
            cal = xcals.get_calendar(name, start=f"{start_year}-01-01")
        except xcals.errors.InvalidCalendarName as e:
            raise InputError(f"unknown trading calendar {name!r}: {e}") from e
        except ValueError:  # some calendars cannot start that early
            cal = xcals.get_calendar(name)
        sched = cal.schedule
    tz = str(cal.tz)
    day = _ns(pd.DatetimeIndex(sched.index))
    op = _ns(pd.DatetimeIndex(sched["open"]))
    cl = _ns(pd.DatetimeIndex(sched["close"]))
    local_open = _ns(pd.DatetimeIndex(sched["open"]).tz_convert(tz).tz_localize(None)) - day
    local_close = _ns(pd.DatetimeIndex(sched["close"]).tz_convert(tz).tz_localize(None)) - day
    wk, wc = _group_max(week_start_ns(day), cl)
    mk, mc = _group_max(month_start_ns(day), cl)
    return SessionTable(
        name=name,
        tz=tz,
        day=day,
        open=op,
        close=cl,
        usual_open=int(pd.Series(local_open[-250:]).mode().iloc[0]),
        usual_close=int(pd.Series(local_close[-250:]).mode().iloc[0]),
        week_key=wk,
        week_close=wc,
        month_key=mk,
        month_close=mc,
    )


def table_for(name: str, first: pd.Timestamp) -> SessionTable:
    """A SessionTable covering data that starts at `first`."""
    first = pd.Timestamp(first)
    if first.tzinfo is not None:
        first = first.tz_localize(None)
    year = min(1980, first.year - 1)
    return session_table(name, max(year, 1900))


def bar_end_ns(
    ts_ns: np.ndarray, intraday: bool, step_minutes: int | None, table: SessionTable
) -> tuple[np.ndarray, np.ndarray]:
    """(session date, time each bar is complete) as int64 ns.

    Daily bars: complete at the session close. Intraday bars: at `start + step`, capped at the
    session close; the last bar of each session but the final one in the data ends at the
    close (the final bar of a day may be short, e.g. 15:30-16:00, or longer on a half-day).
    """
    if not intraday:
        day = ts_ns - ts_ns % DAY_NS
        return day, table.bounds(day)[1]
    if step_minutes is None:
        raise ValueError("intraday bars need their step in minutes")
    day = table.local_day(ts_ns)
    _, close, _ = table.bounds(day)
    end = np.minimum(ts_ns + step_minutes * 60 * 10**9, close)
    last_of_session = np.r_[day[1:] != day[:-1], False]
    return day, np.where(last_of_session, close, end)
