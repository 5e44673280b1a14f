"""Infer the bar size of a timestamp column (the mixed-size check is in `validation`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.data.schema import Timeframe, to_ns

DAY_NS = 86_400 * 10**9
_MIN_NS = 60 * 10**9
# calendar-day gaps between consecutive date-level bars, per class
_DATE_CLASSES: dict[Timeframe, tuple[int, int]] = {
    Timeframe.D1: (1, 5),
    Timeframe.W1: (6, 10),
    Timeframe.MO1: (25, 35),
}
MIXED_SHARE = 0.05
LOCAL_TZ = "America/New_York"


def is_intraday(ts: pd.Series) -> bool:
    """Intraday bars are tz-aware (UTC after loading); date-level bars are naive midnights."""
    return isinstance(ts.dtype, pd.DatetimeTZDtype)


def date_class(days: np.ndarray) -> np.ndarray:
    out = np.full(days.shape, "", dtype=object)
    for tf, (lo, hi) in _DATE_CLASSES.items():
        out[(days >= lo) & (days <= hi)] = tf.value
    return out


def session_min_steps(ts: pd.Series, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Per local day: the smallest step between bars (minutes), and all within-day steps."""
    local = ts.dt.tz_convert(tz)
    day = to_ns(local.dt.tz_localize(None).dt.normalize())
    v = to_ns(ts)
    same = day[1:] == day[:-1]
    steps = (np.diff(v) // _MIN_NS)[same]
    step_day = day[1:][same]
    if steps.size == 0:
        return np.empty(0, dtype=np.int64), steps
    s = pd.Series(steps).groupby(step_day).min()
    return s.to_numpy(), steps


def infer_timeframe(ts: pd.Series, tz: str = LOCAL_TZ) -> str:
    """Bar size label (`1D`, `1W`, `1M`, `1H`, `15min`, ...) from sorted, valid timestamps."""
    ts = ts.dropna()
    if len(ts) < 2:
        return Timeframe.D1.value if not is_intraday(ts) else "unknown"
    if is_intraday(ts):
        mins, steps = session_min_steps(ts, tz)
        if mins.size == 0:
            steps = np.diff(to_ns(ts)) // _MIN_NS
            mins = steps
        base = int(pd.Series(mins).mode().iloc[0])
        for tf in Timeframe:
            if tf.is_intraday and tf.minutes == base:
                return tf.value
        return f"{base}min"
    days = np.diff(to_ns(ts)) // DAY_NS
    classes = pd.Series(date_class(days))
    classes = classes[classes != ""]
    return classes.mode().iloc[0] if len(classes) else Timeframe.D1.value


def date_level_timeframes(ts_ns: np.ndarray, lengths: np.ndarray) -> list[str | None]:
    """`infer_timeframe` of many date-level symbols at once (timestamps concatenated, sorted
    within each symbol): the bar size where every classified gap of the symbol has one class
    (then `mixed_timeframe_issue` has nothing to report either), None where they mix."""
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    days = np.r_[0, np.diff(ts_ns)] // DAY_NS
    inside = np.ones(len(ts_ns), dtype=bool)
    inside[starts] = False  # a symbol's first bar has no gap
    present = []
    for lo, hi in _DATE_CLASSES.values():
        gap = inside & (days >= lo) & (days <= hi)
        present.append(np.logical_or.reduceat(gap, starts))
    present = np.stack(present, axis=1)  # (S, classes)
    names = [tf.value for tf in _DATE_CLASSES]
    out: list[str | None] = []
    for row in present:
        k = np.flatnonzero(row)
        out.append(Timeframe.D1.value if k.size == 0 else names[k[0]] if k.size == 1 else None)
    return out
