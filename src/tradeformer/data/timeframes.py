"""Infer the bar size of a timestamp column and detect files that mix bar sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.data.schema import Timeframe, to_ns

_DAY_NS = 86_400 * 10**9
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


def _date_class(days: np.ndarray) -> np.ndarray:
    out = np.full(days.shape, "", dtype=object)
    for tf, (lo, hi) in _DATE_CLASSES.items():
        out[(days >= lo) & (days <= hi)] = tf.value
    return out


def _session_min_steps(ts: pd.Series, tz: str) -> tuple[np.ndarray, np.ndarray]:
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
        mins, steps = _session_min_steps(ts, tz)
        if mins.size == 0:
            steps = np.diff(to_ns(ts)) // _MIN_NS
            mins = steps
        base = int(pd.Series(mins).mode().iloc[0])
        for tf in Timeframe:
            if tf.is_intraday and tf.minutes == base:
                return tf.value
        return f"{base}min"
    days = np.diff(to_ns(ts)) // _DAY_NS
    classes = pd.Series(_date_class(days))
    classes = classes[classes != ""]
    return classes.mode().iloc[0] if len(classes) else Timeframe.D1.value


def mixed_timeframe_issue(symbol: str, ts: pd.Series, *, source: str = "", tz: str = LOCAL_TZ):
    """An Issue if the (sorted, valid) timestamps mix bar sizes, else None."""
    from tradeformer.data.validation import Issue, Rule

    if len(ts) < 3:
        return None
    if is_intraday(ts):
        mins, steps = _session_min_steps(ts, tz)
        if mins.size == 0:
            return None
        base = int(pd.Series(mins).mode().iloc[0])
        off_grid = int(((steps % base) != 0).sum()) if base > 0 else 0
        other = int((mins != base).sum())
        if off_grid > 0 or other > max(2, MIXED_SHARE * mins.size):
            return Issue(
                symbol,
                Rule.MIXED_TIMEFRAME,
                f"intraday steps are not one bar size: main step {base} min, "
                f"{off_grid} step(s) off that grid, {other} of {mins.size} days with another "
                f"smallest step (e.g. {sorted(set(mins.tolist()) - {base})[:3]} min)",
                count=off_grid + other,
                source=source,
            )
        return None
    days = np.diff(to_ns(ts)) // _DAY_NS
    classes = pd.Series(_date_class(days))
    classes = classes[classes != ""]
    if classes.empty:
        return None
    counts = classes.value_counts()
    main = counts.index[0]
    minor = counts.iloc[1:]
    minor = minor[minor > max(2, MIXED_SHARE * len(classes))]
    if len(minor):
        parts = ", ".join(f"{k}: {int(v)} gaps" for k, v in minor.items())
        return Issue(
            symbol,
            Rule.MIXED_TIMEFRAME,
            f"bar spacing mixes {main} ({int(counts.iloc[0])} gaps) with {parts}",
            count=int(minor.sum()),
            source=source,
        )
    return None


def date_level_timeframes(ts_ns: np.ndarray, lengths: np.ndarray) -> list[str | None]:
    """`infer_timeframe` of many date-level symbols at once (timestamps concatenated, sorted
    within each symbol): the bar size where every classified gap of the symbol has one class
    (then `mixed_timeframe_issue` has nothing to report either), None where they mix."""
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    days = np.r_[0, np.diff(ts_ns)] // _DAY_NS
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
