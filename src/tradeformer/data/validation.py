"""Bar validation: one clear issue per problem (symbol, rule, first row/timestamp), and repairs.

Rules are vectorised over a whole symbol. ``reject`` (default) raises on any error; ``repair``
drops the offending rows (and sorts unsorted bars) and records every change in the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np
import pandas as pd

from tradeformer.data.anomalies import adjust_split, reverting_spikes, split_like_jumps
from tradeformer.data.schema import OHLCV_COLUMNS, PRICE_COLUMNS, TIMESTAMP, to_ns
from tradeformer.data.timeframes import (
    DAY_NS,
    LOCAL_TZ,
    MIXED_SHARE,
    date_class,
    is_intraday,
    session_min_steps,
)
from tradeformer.errors import DataError

Policy = Literal["reject", "repair"]
MAX_EXAMPLES = 5


class Rule(StrEnum):
    """Validation rules; the value is what messages and reports show."""

    MISSING_COLUMNS = "missing_columns"
    UNPARSABLE_TIMESTAMP = "unparsable_timestamp"
    UNSORTED = "unsorted_timestamps"
    DUPLICATE = "duplicate_timestamp"
    NAN_OR_INF = "nan_or_inf"
    NON_POSITIVE_PRICE = "non_positive_price"
    HIGH_BELOW_OPEN_CLOSE = "high_below_open_close"
    LOW_ABOVE_OPEN_CLOSE = "low_above_open_close"
    NEGATIVE_VOLUME = "negative_volume"
    TOO_SHORT = "history_shorter_than_lookback"
    MIXED_TIMEFRAME = "mixed_timeframes"
    FUTURE_TIMESTAMP = "timestamp_in_the_future"
    DUPLICATE_COLUMN = "duplicate_column"
    DUPLICATE_SYMBOL = "duplicate_symbol"  # one symbol in two files
    UNREADABLE_FILE = "unreadable_file"  # empty, binary, not CSV/Parquet
    FILE_DIALECT = "file_dialect_assumed"  # warning: encoding / delimiter / decimals read
    TIMESTAMP_FORMAT = "timestamp_format_assumed"  # warning: DD/MM/YYYY, epoch seconds, ...
    SPLIT_LIKE_JUMP = "split_like_jump"  # warning: an unadjusted split? (repair adjusts it)
    PRICE_SPIKE = "reverting_price_spike"  # warning: a fat-finger bar (repair drops it)
    ZERO_VOLUME = "zero_volume"  # warning
    ASSUMED_TIMEZONE = "naive_intraday_timezone_assumed"  # warning
    EMPTY = "empty"
    DOWNLOAD_FAILED = "download_failed"  # warning (only with allow_missing)


ROW_RULES: frozenset[Rule] = frozenset(
    {
        Rule.UNPARSABLE_TIMESTAMP,
        Rule.DUPLICATE,
        Rule.NAN_OR_INF,
        Rule.NON_POSITIVE_PRICE,
        Rule.HIGH_BELOW_OPEN_CLOSE,
        Rule.LOW_ABOVE_OPEN_CLOSE,
        Rule.NEGATIVE_VOLUME,
        Rule.FUTURE_TIMESTAMP,
    }
)
# what `--policy repair` fixes (drops the rows, sorts, keeps the first column, adjusts)
REPAIRABLE: frozenset[Rule] = ROW_RULES | {
    Rule.UNSORTED,
    Rule.DUPLICATE_COLUMN,
    Rule.SPLIT_LIKE_JUMP,
    Rule.PRICE_SPIKE,
}
WARNING_RULES: frozenset[Rule] = frozenset(
    {
        Rule.ZERO_VOLUME,
        Rule.ASSUMED_TIMEZONE,
        Rule.DOWNLOAD_FAILED,
        Rule.FILE_DIALECT,
        Rule.TIMESTAMP_FORMAT,
        Rule.SPLIT_LIKE_JUMP,
        Rule.PRICE_SPIKE,
    }
)


@dataclass(frozen=True)
class Issue:
    """One problem of one symbol: which rule, how many rows, where it first happens."""

    symbol: str
    rule: Rule
    detail: str
    count: int = 1
    rows: tuple[int, ...] = ()
    timestamps: tuple[str, ...] = ()
    source: str = ""

    @property
    def severity(self) -> str:
        return "warning" if self.rule in WARNING_RULES else "error"

    @property
    def message(self) -> str:
        where = ""
        if self.rows:
            ts = f" ({self.timestamps[0]})" if self.timestamps else ""
            more = f" and {self.count - 1} more" if self.count > 1 else ""
            where = f" at row {self.rows[0]}{ts}{more}"
        src = f" [{self.source}]" if self.source else ""
        return f"{self.symbol}: {self.rule.value}{where}: {self.detail}{src}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rule"] = self.rule.value
        d["severity"] = self.severity
        d["message"] = self.message
        return d


@dataclass(frozen=True)
class Repair:
    """A change made under the ``repair`` policy."""

    symbol: str
    rule: Rule
    action: str
    rows: int
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rule"] = self.rule.value
        return d


@dataclass
class ValidationReport:
    """All issues and repairs of one load."""

    issues: list[Issue] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict:
        return {
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
            "repairs": [r.to_dict() for r in self.repairs],
        }


class DataValidationError(DataError):
    """Raised when bars break validation rules under the ``reject`` policy."""

    def __init__(self, issues: list[Issue], report: ValidationReport | None = None):
        self.issues = issues
        self.report = report or ValidationReport(list(issues))  # warnings and repairs too
        lines = [f"{len(issues)} data problem(s):"] + [f"  - {i.message}" for i in issues]
        super().__init__("\n".join(lines))


def _ts_str(ts: pd.Series, rows: np.ndarray) -> tuple[str, ...]:
    return tuple(str(ts.iloc[r]) for r in rows[:MAX_EXAMPLES])


def _row_issue(
    symbol: str, rule: Rule, mask: np.ndarray, ts: pd.Series, detail: str, source: str
) -> Issue | None:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return None
    return Issue(
        symbol=symbol,
        rule=rule,
        detail=detail,
        count=int(rows.size),
        rows=tuple(int(r) for r in rows[:MAX_EXAMPLES]),
        timestamps=_ts_str(ts, rows),
        source=source,
    )


# A date-level bar is in the future once its date has not begun anywhere on Earth (UTC+14).
LATEST_ZONE = pd.Timedelta(hours=14)


def future_mask(ts: pd.Series, as_of: pd.Timestamp | None = None) -> tuple[np.ndarray, str]:
    """Rows stamped after `as_of` (default: now). Intraday bars compare their start (UTC);
    date-level bars their date with the as-of date in the latest time zone."""
    now = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        limit, what = now, f"bar starts after the as-of time {now:%Y-%m-%d %H:%M} UTC"
    else:
        limit = (now + LATEST_ZONE).tz_localize(None).normalize()
        what = f"bar dated after the as-of date {limit:%Y-%m-%d}"
    with np.errstate(invalid="ignore"):
        mask = (ts > limit).to_numpy(dtype=bool, na_value=False)
    return mask, f"{what} (bars cannot come from the future)"


def row_masks(
    frame: pd.DataFrame, as_of: pd.Timestamp | None = None
) -> dict[Rule, tuple[np.ndarray, str]]:
    """Boolean masks of offending rows for each row-level rule, with a detail message."""
    ts = frame[TIMESTAMP]
    out: dict[Rule, tuple[np.ndarray, str]] = {}
    nat = ts.isna().to_numpy()
    out[Rule.UNPARSABLE_TIMESTAMP] = (nat, "timestamp could not be parsed")
    dup = (ts.duplicated(keep="first") & ~ts.isna()).to_numpy()
    out[Rule.DUPLICATE] = (dup, "timestamp appears more than once (first kept under repair)")
    out[Rule.FUTURE_TIMESTAMP] = future_mask(ts, as_of)

    vals = {c: frame[c].to_numpy(dtype="float64", na_value=np.nan) for c in OHLCV_COLUMNS}
    if "adj_close" in frame.columns:
        vals["adj_close"] = frame["adj_close"].to_numpy(dtype="float64", na_value=np.nan)
    bad_cols = [c for c, v in vals.items() if not np.isfinite(v).all()]
    nonfinite = np.zeros(len(frame), dtype=bool)
    for c in bad_cols:
        nonfinite |= ~np.isfinite(vals[c])
    out[Rule.NAN_OR_INF] = (nonfinite, f"NaN, inf or non-numeric value in {', '.join(bad_cols)}")

    o, h, lo, c = (vals[k] for k in PRICE_COLUMNS)
    with np.errstate(invalid="ignore"):
        price_cols = [*PRICE_COLUMNS, "adj_close"] if "adj_close" in vals else list(PRICE_COLUMNS)
        nonpos = np.zeros(len(frame), dtype=bool)
        for k in price_cols:
            nonpos |= vals[k] <= 0
        out[Rule.NON_POSITIVE_PRICE] = (nonpos, "price <= 0")
        hi_bad = h < np.maximum(o, c)
        lo_bad = lo > np.minimum(o, c)
        out[Rule.NEGATIVE_VOLUME] = (vals["volume"] < 0, "volume < 0")
    out[Rule.HIGH_BELOW_OPEN_CLOSE] = (hi_bad, "high < max(open, close)")
    out[Rule.LOW_ABOVE_OPEN_CLOSE] = (lo_bad, "low > min(open, close)")
    return out


def _first_detail(rule: Rule, frame: pd.DataFrame, mask: np.ndarray, detail: str) -> str:
    """Add the offending values of the first bad row to the detail message."""
    r = int(np.flatnonzero(mask)[0])
    row = frame.iloc[r]
    if rule in (Rule.HIGH_BELOW_OPEN_CLOSE, Rule.LOW_ABOVE_OPEN_CLOSE, Rule.NON_POSITIVE_PRICE):
        vals = ", ".join(f"{k}={row[k]:.6g}" for k in PRICE_COLUMNS)
        return f"{detail} ({vals})"
    if rule is Rule.NEGATIVE_VOLUME:
        return f"{detail} (volume={row['volume']})"
    return detail


def unsorted_mask(ts: pd.Series) -> np.ndarray:
    """Rows whose timestamp is earlier than one before it (ignores NaT)."""
    v = to_ns(ts)
    valid = ~ts.isna().to_numpy()
    v = np.where(valid, v, np.iinfo(np.int64).min)
    prev_max = np.maximum.accumulate(v)
    prev_max = np.concatenate([[np.iinfo(np.int64).min], prev_max[:-1]])
    return valid & (v < prev_max)


def validate_bars(
    symbol: str,
    frame: pd.DataFrame,
    *,
    min_bars: int = 120,
    source: str = "",
    check_timeframe: bool = True,
    as_of: pd.Timestamp | None = None,
) -> list[Issue]:
    """All issues of one symbol's normalised bars (canonical columns, parsed timestamps)."""
    missing = [c for c in (TIMESTAMP, *OHLCV_COLUMNS) if c not in frame.columns]
    if missing:
        return [
            Issue(
                symbol,
                Rule.MISSING_COLUMNS,
                f"missing column(s) {', '.join(missing)}; found {list(frame.columns)}",
                source=source,
            )
        ]
    if len(frame) == 0:
        return [Issue(symbol, Rule.EMPTY, "no rows", source=source)]

    ts = frame[TIMESTAMP]
    issues: list[Issue] = []
    masks = row_masks(frame, as_of)
    for rule, (mask, detail) in masks.items():
        if mask.any():
            issue = _row_issue(
                symbol, rule, mask, ts, _first_detail(rule, frame, mask, detail), source
            )
            if issue:
                issues.append(issue)
    uns = unsorted_mask(ts)
    if uns.any():
        issue = _row_issue(
            symbol, Rule.UNSORTED, uns, ts, "timestamp earlier than a previous row", source
        )
        if issue:
            issues.append(issue)
    with np.errstate(invalid="ignore"):
        zero = frame["volume"].to_numpy(dtype="float64", na_value=np.nan) == 0
    if zero.any():
        issue = _row_issue(symbol, Rule.ZERO_VOLUME, zero, ts, "volume == 0 (kept)", source)
        if issue:
            issues.append(issue)

    if not any(i.severity == "error" for i in issues):  # price jumps on clean, sorted bars
        issues += price_jump_issues(symbol, frame, source)
    n_ok = int((~masks[Rule.UNPARSABLE_TIMESTAMP][0]).sum())
    if n_ok < min_bars:
        issues.append(
            Issue(
                symbol,
                Rule.TOO_SHORT,
                f"{n_ok} bars < lookback {min_bars}",
                count=n_ok,
                source=source,
            )
        )
    if check_timeframe and n_ok >= 3:
        mixed = mixed_timeframe_issue(symbol, ts.dropna().sort_values(), source=source)
        if mixed is not None:
            issues.append(mixed)
    return issues


def price_jump_issues(symbol: str, frame: pd.DataFrame, source: str = "") -> list[Issue]:
    """Warnings for split-like jumps and reverting spikes (`anomalies`): the data may be
    right; `--policy repair` adjusts the split / drops the spike."""
    ts = frame[TIMESTAMP]
    out = []
    for j in split_like_jumps(frame):
        detail = (
            f"prices jump x{j.observed:.4g} overnight, a {j.label} (ratio {j.price_ratio:.4g})? "
            f"volume x{j.volume_ratio:.3g} after; under repair the bars before are adjusted"
        )
        out.append(
            _row_issue(symbol, Rule.SPLIT_LIKE_JUMP, _at(len(frame), j.row), ts, detail, source)
        )
    spikes = reverting_spikes(frame)
    if spikes.size:
        r = int(spikes[0])
        c = frame["close"].to_numpy(dtype="float64")
        h = frame["high"].to_numpy(dtype="float64")
        detail = (
            f"one bar far from both neighbours (close x{c[r] / c[r - 1]:.4g}, high "
            f"x{h[r] / c[r - 1]:.4g} the previous close; the next bar is back): a bad print? "
            "under repair the bar is dropped"
        )
        out.append(
            _row_issue(symbol, Rule.PRICE_SPIKE, _at(len(frame), *spikes), ts, detail, source)
        )
    return out


def _at(n: int, *rows: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(rows)] = True
    return mask


def mixed_timeframe_issue(
    symbol: str, ts: pd.Series, *, source: str = "", tz: str = LOCAL_TZ
) -> Issue | None:
    """An Issue if the (sorted, valid) timestamps mix bar sizes, else None."""
    if len(ts) < 3:
        return None
    if is_intraday(ts):
        return _date_bars_among_intraday(symbol, ts, source, tz) or _mixed_intraday(
            symbol, ts, source, tz
        )
    return _mixed_date_level(symbol, ts, source)


def _date_bars_among_intraday(symbol: str, ts: pd.Series, source: str, tz: str) -> Issue | None:
    """Date-level bars (alone on their local day, at midnight) next to days of intraday bars:
    a daily file whose last rows are hourly (a mixed column is read as intraday) or the reverse."""
    wall = to_ns(ts.dt.tz_convert(tz).dt.tz_localize(None))
    day = wall - wall % DAY_NS
    counts = np.unique(day, return_counts=True)[1]
    per_row = np.repeat(counts, counts)  # sorted timestamps: days are contiguous
    lone = (per_row == 1) & (wall == day)
    n_lone, n_intraday = int(lone.sum()), int((counts > 1).sum())
    stray = (per_row == 1) & (wall != day)  # alone on its day, but not at midnight
    if n_lone > 2 and n_intraday == 0 and stray.any():  # a daily file, a few bars off midnight
        rows = np.flatnonzero(stray if stray.sum() <= n_lone else lone)
        return Issue(
            symbol,
            Rule.MIXED_TIMEFRAME,
            f"{n_lone} date-level bars (at midnight) and {int(stray.sum())} bar(s) alone on "
            "their day at another time of day: one bar size per file; first odd bar shown",
            count=int(rows.size),
            rows=tuple(int(ts.index[r]) for r in rows[:MAX_EXAMPLES]),
            timestamps=tuple(str(ts.iloc[r]) for r in rows[:MAX_EXAMPLES]),
            source=source,
        )
    if n_lone <= 2 or n_intraday == 0:
        return None
    minority = (per_row > 1) if n_lone >= n_intraday else lone
    rows = np.flatnonzero(minority)
    kind = "intraday" if n_lone >= n_intraday else "date-level"
    return Issue(
        symbol,
        Rule.MIXED_TIMEFRAME,
        f"{n_lone} date-level bars (one per day, at midnight) mixed with {n_intraday} days of "
        f"intraday bars; first {kind} bar shown",
        count=int(rows.size),
        rows=tuple(int(ts.index[r]) for r in rows[:MAX_EXAMPLES]),
        timestamps=tuple(str(ts.iloc[r]) for r in rows[:MAX_EXAMPLES]),
        source=source,
    )


def _mixed_intraday(symbol: str, ts: pd.Series, source: str, tz: str) -> Issue | None:
    mins, steps = session_min_steps(ts, tz)
    if mins.size == 0:
        return None
    base = int(pd.Series(mins).mode().iloc[0])
    off_grid = int(((steps % base) != 0).sum()) if base > 0 else 0
    other = int((mins != base).sum())
    if off_grid == 0 and other <= max(2, MIXED_SHARE * mins.size):
        return None
    return Issue(
        symbol,
        Rule.MIXED_TIMEFRAME,
        f"intraday steps are not one bar size: main step {base} min, "
        f"{off_grid} step(s) off that grid, {other} of {mins.size} days with another "
        f"smallest step (e.g. {sorted(set(mins.tolist()) - {base})[:3]} min)",
        count=off_grid + other,
        source=source,
    )


def _mixed_date_level(symbol: str, ts: pd.Series, source: str) -> Issue | None:
    classes = pd.Series(date_class(np.diff(to_ns(ts)) // DAY_NS))
    known = classes[classes != ""]
    if known.empty:
        return None
    counts = known.value_counts()
    main = counts.index[0]
    minor = counts.iloc[1:]
    minor = minor[minor > max(2, MIXED_SHARE * len(known))]
    if not len(minor):
        return None
    parts = ", ".join(f"{k}: {int(v)} gaps" for k, v in minor.items())
    rows = np.flatnonzero(classes.isin(minor.index).to_numpy()) + 1  # the bar after the gap
    return Issue(
        symbol,
        Rule.MIXED_TIMEFRAME,
        f"bar spacing mixes {main} ({int(counts.iloc[0])} gaps) with {parts}",
        count=int(minor.sum()),
        rows=tuple(int(ts.index[r]) for r in rows[:MAX_EXAMPLES]),
        timestamps=tuple(str(ts.iloc[r]) for r in rows[:MAX_EXAMPLES]),
        source=source,
    )


def repair_bars(
    symbol: str, frame: pd.DataFrame, issues: list[Issue], as_of: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, list[Repair]]:
    """Drop rows breaking row-level rules and sort; return the repaired frame and the record.
    Of duplicated columns the first (file order) was kept when the table was normalised."""
    repairs: list[Repair] = [
        Repair(symbol, Rule.DUPLICATE_COLUMN, f"kept the first of {i.detail.split(':')[0]}", 0)
        for i in issues
        if i.rule is Rule.DUPLICATE_COLUMN
    ]
    rules = {i.rule for i in issues}
    if Rule.UNSORTED in rules:
        frame = frame.sort_values(TIMESTAMP, kind="stable", na_position="last")
        frame = frame.reset_index(drop=True)
        repairs.append(Repair(symbol, Rule.UNSORTED, "sorted by timestamp", len(frame)))
    masks = row_masks(frame, as_of)
    drop = np.zeros(len(frame), dtype=bool)
    for rule in ROW_RULES & rules:
        mask = masks[rule][0] & ~drop
        if mask.any():
            ex = _ts_str(frame[TIMESTAMP], np.flatnonzero(mask))
            repairs.append(Repair(symbol, rule, "dropped rows", int(mask.sum()), ex))
            drop |= mask
    if drop.any():
        frame = frame.loc[~drop].reset_index(drop=True)
    if {Rule.SPLIT_LIKE_JUMP, Rule.PRICE_SPIKE} & rules:
        frame, jump_repairs = repair_price_jumps(symbol, frame)
        repairs += jump_repairs
    return frame, repairs


def repair_price_jumps(symbol: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Repair]]:
    """Drop reverting spikes, then back-adjust split-like jumps (latest first), each recorded
    with its date and factor."""
    repairs: list[Repair] = []
    spikes = reverting_spikes(frame)
    if spikes.size:
        ex = _ts_str(frame[TIMESTAMP], spikes)
        repairs.append(Repair(symbol, Rule.PRICE_SPIKE, "dropped bars", int(spikes.size), ex))
        frame = frame.drop(index=frame.index[spikes]).reset_index(drop=True)
    for j in sorted(split_like_jumps(frame), key=lambda j: -j.row):
        when = str(frame[TIMESTAMP].iloc[j.row])
        action = (
            f"adjusted a {j.label} on {when}: prices before it x{j.price_ratio:.6g}, "
            f"volume x{1 / j.price_ratio:.6g}"
        )
        repairs.append(Repair(symbol, Rule.SPLIT_LIKE_JUMP, action, j.row, (when,)))
        frame = adjust_split(frame, j)
    return frame, repairs
