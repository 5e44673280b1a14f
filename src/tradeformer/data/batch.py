"""Normalise and validate many symbols' bars in one pass, with the per-symbol outcome.

The symbols' tables are concatenated and `normalize_table` + `row_masks` run once over all
rows; bar order and spacing are checked per symbol with segment-aware numpy. A symbol with
any finding at all (an error, a warning, an ambiguous bar size) is sent through the
per-symbol path (`finalize_bars`), so its report is exactly the one `tradeformer data` gives;
clean symbols never touch pandas one by one. The result equals per-symbol loading
(tests/data/test_batch.py checks it on real and corrupted bars).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.data.adjust import adjust_ohlc
from tradeformer.data.loading import (
    LoadedBars,
    canonical_columns,
    finalize_bars,
    normalize_table,
)
from tradeformer.data.schema import OHLCV_COLUMNS, TIMESTAMP, to_ns
from tradeformer.data.timeframes import date_level_timeframes, infer_timeframe
from tradeformer.data.validation import (
    Policy,
    Rule,
    ValidationReport,
    mixed_timeframe_issue,
    row_masks,
)


def load_frames(
    frames: dict[str, pd.DataFrame],
    *,
    source: str = "request",
    policy: Policy = "reject",
    min_bars: int = 120,
    adjust: bool = False,
    default_tz: str = "America/New_York",
    as_of: pd.Timestamp | str | None = None,
) -> LoadedBars:
    """`load_bars` for tables already in memory (one per symbol): same rules, same report,
    same errors; vectorised over symbols when their tables share a layout."""
    raws = {
        s: f if isinstance(f.index, pd.RangeIndex) else f.reset_index() for s, f in frames.items()
    }
    clean = (
        _clean_fast(raws, min_bars=min_bars, default_tz=default_tz, as_of=as_of) if raws else None
    )
    fast, timeframes = clean if clean is not None else ({}, {})
    slow = [s for s in raws if s not in fast]
    normalised, parse = {}, {}
    for s in slow:
        normalised[s], parse[s] = normalize_table(
            raws[s], symbol=s, source=source, default_tz=default_tz
        )
    loaded = finalize_bars(
        normalised,
        dict.fromkeys(slow, source),
        parse,
        ValidationReport(),
        policy=policy,
        min_bars=min_bars,
        adjust=adjust,
        as_of=as_of,
    )
    bars, tfs = {}, {}
    for s in raws:
        if s in fast:
            bars[s] = adjust_ohlc(fast[s], symbol=s) if adjust else fast[s]
            tfs[s] = timeframes[s]
        else:
            bars[s], tfs[s] = loaded.bars[s], loaded.timeframes[s]
    return LoadedBars(bars, tfs, loaded.report, dict.fromkeys(raws, source), adjusted=adjust)


def _clean_fast(
    raws: dict[str, pd.DataFrame],
    *,
    min_bars: int,
    default_tz: str,
    as_of: pd.Timestamp | str | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]] | None:
    """The symbols without any finding, normalised, and their bar sizes; None when the tables
    cannot be treated as one (different layouts, a parse issue anywhere)."""
    first = next(iter(raws.values()))
    cols, dtypes = list(first.columns), list(first.dtypes)
    if any(list(f.columns) != cols or list(f.dtypes) != dtypes for f in raws.values()):
        return None
    lengths = np.array([len(f) for f in raws.values()], dtype=np.int64)
    if (lengths == 0).any():
        return None
    long = pd.concat(list(raws.values()), ignore_index=True)
    df, parse_issues = normalize_table(long, symbol="*", default_tz=default_tz)
    if parse_issues or any(c not in df.columns for c in (TIMESTAMP, *OHLCV_COLUMNS)):
        return None
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    ts = df[TIMESTAMP]
    aware = isinstance(ts.dtype, pd.DatetimeTZDtype)
    if aware and _midnight_symbols(canonical_columns(long)[TIMESTAMP], ts, starts).any():
        return None  # alone, an all-midnight symbol would be read as date-level bars

    dirty = lengths < min_bars
    for rule, (mask, _) in row_masks(df, as_of).items():
        if rule is not Rule.DUPLICATE:  # dates repeat across symbols: checked below
            dirty |= np.logical_or.reduceat(mask, starts)
    with np.errstate(invalid="ignore"):
        dirty |= np.logical_or.reduceat(df["volume"].to_numpy(dtype="float64") == 0, starts)
    v = to_ns(ts)
    not_increasing = np.r_[False, v[1:] <= v[:-1]]  # row i vs row i - 1 (duplicate, unsorted)
    not_increasing[starts] = False  # a symbol's first row has no predecessor
    dirty |= np.logical_or.reduceat(not_increasing, starts)

    syms = list(raws)
    # intraday bar sizes: the per-symbol inference (smallest steps within sessions)
    tfs = [None] * len(syms) if aware else date_level_timeframes(v, lengths)
    fast, timeframes = {}, {}
    for k, s in enumerate(syms):
        if dirty[k]:
            continue
        part = df.iloc[starts[k] : starts[k] + lengths[k]].reset_index(drop=True)
        tf = tfs[k]
        if tf is None:
            if mixed_timeframe_issue(s, part[TIMESTAMP]) is not None:
                continue  # reported by the per-symbol path
            tf = infer_timeframe(part[TIMESTAMP])
        fast[s], timeframes[s] = part, tf
    return fast, timeframes


def _midnight_symbols(raw_ts: pd.Series, parsed: pd.Series, starts: np.ndarray) -> np.ndarray:
    """Per symbol: are all its timestamps midnights where `parse_timestamps` looks (the input's
    own zone for tz-aware datetimes, UTC for strings with offsets)?"""
    ref = raw_ts if isinstance(raw_ts.dtype, pd.DatetimeTZDtype) else parsed
    midnight = (ref.dt.normalize() == ref).to_numpy()
    return np.logical_and.reduceat(midnight, starts)
