"""Load OHLCV bars for many symbols from CSV/Parquet files or one long table.

Column names are mapped through aliases (`Date`, `Datetime`, `Open`, `Adj Close`, any case).
Date-level bars become naive midnight timestamps (the trading date); intraday bars become
tz-aware UTC. Loading validates everything first and either raises one error listing every
problem (``reject``) or applies explicit, reported repairs (``repair``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.config import ExecutionConfig
from tradeformer.data.adjust import adjust_ohlc
from tradeformer.data.reading import UnreadableFile, read_csv_text, read_parquet
from tradeformer.data.schema import OHLCV_COLUMNS, SYMBOL, TIMESTAMP, canonical_column
from tradeformer.data.timeframes import infer_timeframe
from tradeformer.data.timestamp_formats import day_first_dates, integer_epochs
from tradeformer.data.validation import (
    DataValidationError,
    Issue,
    Policy,
    Rule,
    ValidationReport,
    repair_bars,
    validate_bars,
)
from tradeformer.errors import DataError, InputError, NotFoundError
from tradeformer.execution import Engine, engine_scope

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq", ".txt")
_OFFSET_RE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


@dataclass
class LoadedBars:
    """Validated bars per symbol with their inferred timeframe and the validation report."""

    bars: dict[str, pd.DataFrame]
    timeframes: dict[str, str]
    report: ValidationReport = field(default_factory=ValidationReport)
    sources: dict[str, str] = field(default_factory=dict)
    adjusted: bool = False

    @property
    def symbols(self) -> list[str]:
        return sorted(self.bars)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in DATA_SUFFIXES:
        if name.endswith(s):
            return s
    return ""


def data_files(path: Path) -> list[Path]:
    """CSV/Parquet files in a directory (sorted), or the file itself."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"no such file or directory: {path}")
    if path.is_file():
        if not _suffix(path):
            raise DataError(f"{path}: not a CSV or Parquet file ({', '.join(DATA_SUFFIXES)})")
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and _suffix(p))
    if not files:
        raise DataError(f"{path}: no CSV or Parquet files found")
    return files


def read_table(path: Path) -> pd.DataFrame:
    """Read one CSV or Parquet file as it is (no conversion yet); raises UnreadableFile."""
    return read_table_with_notes(path)[0]


def read_table_with_notes(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """`read_table` and what was assumed to read it (encoding, delimiter, decimal commas)."""
    notes: list[str] = []
    if _suffix(Path(path)) in (".parquet", ".pq"):
        df = read_parquet(path)
    else:
        df, dialect = read_csv_text(path)
        notes = dialect.notes
    if not isinstance(df.index, pd.RangeIndex):  # e.g. a saved yfinance frame with a Date index
        df = df.reset_index()
    return df, notes


def symbol_from_path(path: Path) -> str:
    name = Path(path).name
    s = _suffix(Path(path))
    return name[: len(name) - len(s)] if s else Path(path).stem


def canonical_columns(raw: pd.DataFrame) -> dict[str, pd.Series]:
    """The recognised columns under their canonical names (first alias wins), in file order."""
    out: dict[str, pd.Series] = {}
    for k, col in enumerate(raw.columns):
        canon = canonical_column(col)
        if canon and canon not in out:
            out[canon] = raw.iloc[:, k]
    return out


def duplicate_columns(raw: pd.DataFrame) -> dict[str, list[str]]:
    """Canonical names that more than one column maps to (`Close` and `close`, `Adj Close`
    twice, `Date` and `Datetime`), with those columns in file order."""
    names: dict[str, list[str]] = {}
    for col in raw.columns:
        canon = canonical_column(col)
        if canon:
            names.setdefault(canon, []).append(str(col))
    return {c: cols for c, cols in names.items() if len(cols) > 1}


def _all_midnights(ts: pd.Series) -> bool:
    """Are all non-NaT values midnights (local wall clock for tz-aware values)?"""
    wall = ts.dt.tz_localize(None) if isinstance(ts.dtype, pd.DatetimeTZDtype) else ts
    # in the column's own unit: a microsecond parse of year 490 has no nanosecond value
    # (numpy >= 2.5 raises OverflowError converting it; the range check comes later)
    unit = np.datetime_data(wall.dtype)[0]
    v = wall.to_numpy(dtype=f"datetime64[{unit}]").view("int64")
    v = v[v != np.iinfo(np.int64).min]
    per_day = np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype("int64")
    return bool(v.size) and not (v % per_day).any()


def parse_timestamps(
    values: pd.Series, *, default_tz: str = "America/New_York"
) -> tuple[pd.Series, bool]:
    """Parse to naive dates (daily) or UTC timestamps (intraday); NaT where unparsable.

    Returns the parsed series and whether a naive intraday clock was localised to `default_tz`.
    """
    ts, assumed, _ = parse_timestamps_noted(values, default_tz=default_tz)
    return ts, assumed


def parse_timestamps_noted(
    values: pd.Series, *, default_tz: str = "America/New_York"
) -> tuple[pd.Series, bool, str | None]:
    """`parse_timestamps` and a note when the column's format was settled as a whole
    (day-first dates, integer epochs, YYYYMMDD: `timestamp_formats`)."""
    note = None
    special = None
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        special = integer_epochs(values)
        if special is None and not pd.api.types.is_numeric_dtype(values.dtype):
            special = day_first_dates(values.astype(str).str.strip())
    if special is not None:
        ts, note = special
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        ts = values
    else:
        text = values.astype(str).str.strip()
        has_offset = text.str.contains(_OFFSET_RE, na=False)
        if has_offset.any():
            ts = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
            if (~has_offset & (text != "")).any():  # naive strings in an offset column
                ts = ts.where(has_offset)
        else:
            ts = pd.to_datetime(text, errors="coerce", format="mixed")
    assumed = False
    midnights = _all_midnights(ts)
    has_values = bool(ts.notna().any())
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        # a tz-aware column whose times are all local midnights is a daily column (yfinance)
        if midnights:
            ts = ts.dt.tz_localize(None).dt.normalize()
        elif str(ts.dt.tz) != "UTC":
            ts = ts.dt.tz_convert("UTC")
    elif has_values and not midnights:
        ts = ts.dt.tz_localize(default_tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        assumed = True
    target = _ns_dtype(ts)
    if ts.dtype != target:  # e.g. microsecond-resolution parses: years outside 1677-2262 -> NaT
        tz = ts.dt.tz if isinstance(ts.dtype, pd.DatetimeTZDtype) else None
        lo, hi = (pd.Timestamp(b, tz=tz) for b in (pd.Timestamp.min, pd.Timestamp.max))
        ts = ts.where((ts >= lo) & (ts <= hi)).astype(target)
    return ts, assumed, note


def _ns_dtype(ts: pd.Series):
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeTZDtype("ns", ts.dt.tz)
    return "datetime64[ns]"


def normalize_table(
    raw: pd.DataFrame, *, symbol: str, source: str = "", default_tz: str = "America/New_York"
) -> tuple[pd.DataFrame, list[Issue]]:
    """Canonical columns, parsed timestamps and float prices; issues for unparsable values."""
    cols = canonical_columns(raw)
    issues: list[Issue] = [
        Issue(
            symbol,
            Rule.DUPLICATE_COLUMN,
            f"columns {', '.join(map(repr, names))} all map to {canon!r} "
            "(under repair the first is kept)",
            count=len(names),
            source=source,
        )
        for canon, names in duplicate_columns(raw).items()
    ]
    if TIMESTAMP not in cols:
        return pd.DataFrame(cols, index=raw.index), issues  # validate_bars: missing column
    raw_ts = cols[TIMESTAMP]
    ts, assumed, note = parse_timestamps_noted(raw_ts, default_tz=default_tz)
    if note:
        issues.append(Issue(symbol, Rule.TIMESTAMP_FORMAT, note, source=source))
    bad = ts.isna().to_numpy() & ~raw_ts.isna().to_numpy()
    cols[TIMESTAMP] = ts
    if bad.any():
        rows = np.flatnonzero(bad)
        issues.append(
            Issue(
                symbol,
                Rule.UNPARSABLE_TIMESTAMP,
                f"cannot parse timestamp {str(raw_ts.iloc[rows[0]])!r} (or it lies outside "
                "1677-2262, the range of nanosecond timestamps)",
                count=int(rows.size),
                rows=tuple(int(r) for r in rows[:5]),
                timestamps=tuple(str(raw_ts.iloc[r]) for r in rows[:5]),
                source=source,
            )
        )
    if assumed:
        issues.append(
            Issue(
                symbol,
                Rule.ASSUMED_TIMEZONE,
                f"intraday timestamps without a time zone were read as {default_tz}",
                source=source,
            )
        )
    for col in (*OHLCV_COLUMNS, "adj_close"):
        if col in cols and not pd.api.types.is_float_dtype(cols[col].dtype):
            cols[col] = pd.to_numeric(cols[col], errors="coerce").astype("float64")
    keep = [c for c in (TIMESTAMP, *OHLCV_COLUMNS, "adj_close", SYMBOL) if c in cols]
    return pd.DataFrame({c: cols[c] for c in keep}, index=raw.index), issues  # one copy


def _split_long(df: pd.DataFrame, default_symbol: str) -> dict[str, pd.DataFrame]:
    if SYMBOL not in df.columns:
        return {default_symbol: df}
    groups = {}
    for sym, g in df.groupby(df[SYMBOL].astype(str), sort=True):
        groups[str(sym)] = g.drop(columns=SYMBOL).reset_index(drop=True)
    return groups


def load_bars(
    path: str | Path | Iterable[str | Path],
    *,
    policy: Policy = "reject",
    min_bars: int = 120,
    adjust: bool = False,
    symbols: Iterable[str] | None = None,
    default_tz: str = "America/New_York",
    progress: bool = False,
    as_of: pd.Timestamp | str | None = None,
    engine: Engine | None = None,
) -> LoadedBars:
    """Load, normalise and validate bars for every symbol found at `path`.

    `path` is a directory of per-symbol files, one file (per-symbol, or long with a `symbol`
    column), or a list of those. Raises DataValidationError (reject) listing every problem.
    Bars stamped after `as_of` (default: now) are errors (`timestamp_in_the_future`).
    Files are read and normalised, and symbols validated, on `engine` (default: here).
    """
    if policy not in ("reject", "repair"):
        raise InputError(f"policy must be 'reject' or 'repair', not {policy!r}")
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files = [f for p in paths for f in data_files(Path(p))]
    wanted = {s.upper() for s in symbols} if symbols else None
    jobs = [(f, wanted, default_tz) for f in files]
    with engine_scope(engine or ExecutionConfig(workers=1)) as eng:
        read = eng.map(read_file, jobs, label="reading bars", progress=progress and len(jobs) > 1)

    frames: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    parse_issues: dict[str, list[Issue]] = {}
    report = ValidationReport()
    for f, parts in zip(files, read, strict=True):
        for sym, frame, issues in parts:
            if sym in frames or sym in sources:
                detail = f"the symbol's bars are also in {sources[sym]} (one file per symbol)"
                report.issues.append(Issue(sym, Rule.DUPLICATE_SYMBOL, detail, source=str(f)))
                continue
            sources[sym] = str(f)
            if frame is None:  # unreadable: nothing to validate
                report.issues.extend(issues)
                continue
            frames[sym], parse_issues[sym] = frame, issues
    if wanted:
        for s in sorted(wanted - {k.upper() for k in sources}):
            report.issues.append(Issue(s, Rule.EMPTY, "symbol not found in the data"))
    return finalize_bars(
        frames,
        sources,
        parse_issues,
        report,
        policy=policy,
        min_bars=min_bars,
        adjust=adjust,
        as_of=as_of,
        engine=engine,
    )


def read_file(job: tuple) -> list[tuple[str, pd.DataFrame | None, list[Issue]]]:
    """One file's symbols (those `wanted`, or all), each normalised: (symbol, frame, issues);
    an unreadable file is one (symbol, None, [its issue])."""
    f, wanted, default_tz = job
    try:
        raw, notes = read_table_with_notes(f)
    except UnreadableFile as e:
        sym = symbol_from_path(f)
        if wanted and sym.upper() not in wanted:
            return []
        return [(sym, None, [Issue(sym, Rule.UNREADABLE_FILE, str(e), source=str(f))])]
    out = []
    for sym, part in _split_long(_rename_symbol_only(raw), symbol_from_path(f)).items():
        if wanted and sym.upper() not in wanted:
            continue
        frame, issues = normalize_table(part, symbol=sym, source=str(f), default_tz=default_tz)
        dialect = [Issue(sym, Rule.FILE_DIALECT, "read as " + "; ".join(notes), source=str(f))]
        out.append((sym, frame, (dialect if notes else []) + issues))
    return out


def finalize_bars(
    frames: dict[str, pd.DataFrame],
    sources: dict[str, str],
    parse_issues: dict[str, list[Issue]],
    report: ValidationReport,
    *,
    policy: Policy,
    min_bars: int,
    adjust: bool,
    as_of: pd.Timestamp | str | None = None,
    engine: Engine | None = None,
) -> LoadedBars:
    """Validate normalised frames, repair if asked, raise on errors, adjust, infer timeframes
    (symbols checked on `engine`, default: here)."""
    jobs = [
        (s, f, parse_issues.get(s, []), sources.get(s, ""), policy, min_bars, as_of)
        for s, f in frames.items()
    ]
    with engine_scope(engine or ExecutionConfig(workers=1)) as eng:
        checked = eng.map(check_symbol, jobs)
    final: dict[str, pd.DataFrame] = {}
    for (sym, *_), (frame, issues, repairs) in zip(jobs, checked, strict=True):
        report.repairs.extend(repairs)
        report.issues.extend(issues)
        final[sym] = frame
    if report.errors:
        raise DataValidationError(report.errors, report)

    timeframes: dict[str, str] = {}
    for sym, frame in final.items():
        timeframes[sym] = infer_timeframe(frame[TIMESTAMP])
        if adjust:
            frame = adjust_ohlc(frame, symbol=sym)
        final[sym] = frame.reset_index(drop=True)
    return LoadedBars(final, timeframes, report, sources, adjusted=adjust)


def check_symbol(job: tuple) -> tuple[pd.DataFrame, list[Issue], list]:
    """One symbol validated (and repaired under the repair policy): (frame, issues, repairs)."""
    sym, frame, parsed, src, policy, min_bars, as_of = job
    issues = parsed + _validate(sym, frame, min_bars, src, parsed, as_of)
    repairs = []
    jumps = (Rule.SPLIT_LIKE_JUMP, Rule.PRICE_SPIKE)
    if policy == "repair" and any(i.severity == "error" or i.rule in jumps for i in issues):
        frame, repairs = repair_bars(sym, frame, issues, as_of)
        issues = [i for i in parsed if i.severity == "warning"]
        issues += validate_bars(sym, frame, min_bars=min_bars, source=src, as_of=as_of)
    return frame, issues, repairs


def _validate(
    sym: str,
    frame: pd.DataFrame,
    min_bars: int,
    source: str,
    parsed: list[Issue],
    as_of: pd.Timestamp | str | None,
) -> list[Issue]:
    """validate_bars, minus the NaT rows that normalize_table already reported verbatim."""
    issues = validate_bars(sym, frame, min_bars=min_bars, source=source, as_of=as_of)
    if any(i.rule is Rule.UNPARSABLE_TIMESTAMP for i in parsed):
        issues = [i for i in issues if i.rule is not Rule.UNPARSABLE_TIMESTAMP]
    return issues


def _rename_symbol_only(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename a symbol/ticker column so long tables can be split before normalising."""
    for col in raw.columns:
        if canonical_column(col) == SYMBOL:
            return raw.rename(columns={col: SYMBOL})
    return raw
