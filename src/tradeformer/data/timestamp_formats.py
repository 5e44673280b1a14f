"""Timestamp spellings that a generic parser gets wrong, settled over the whole column.

- Day-first dates (`13/01/2020`, `13.01.2020`): a per-value parser reads `01/02/2020` as
  January 2nd and `13/01/2020` as January 13th, so a DD/MM/YYYY file looks unsorted. The
  column is read month-first unless only day-first reads every value in increasing order.
- Integer epochs: all-digit values of 9-10 digits are seconds since 1970, 12-13
  milliseconds, 15-16 microseconds, 18-19 nanoseconds; 8 digits are `YYYYMMDD`.
Each returns the parsed column and a note for the report, or None when the rule does not
apply, so the generic parser handles everything else.
"""

from __future__ import annotations

import re

import pandas as pd

_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T].*)?$")
_DIGITS = re.compile(r"^\d+$")
EPOCH_UNITS = {9: "s", 10: "s", 12: "ms", 13: "ms", 15: "us", 16: "us", 18: "ns", 19: "ns"}
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _increasing(ts: pd.Series) -> bool:
    return bool(ts.notna().all()) and bool(ts.is_monotonic_increasing)


def day_first_dates(text: pd.Series) -> tuple[pd.Series, str] | None:
    """A column of `D/M/YYYY` dates (any of `/.-`) read day-first, or None."""
    filled = text[text != ""]
    if filled.empty or not filled.str.match(_NUMERIC_DATE.pattern).all():
        return None
    parts = filled.str.extract(_NUMERIC_DATE.pattern).astype(int)
    first_is_day = bool((parts[0] > 12).any())
    if not first_is_day:
        month_first = pd.to_datetime(filled, errors="coerce", format="mixed", dayfirst=False)
        if _increasing(month_first):
            return None  # the generic reading works: nothing to settle
    day_first = pd.to_datetime(filled, errors="coerce", format="mixed", dayfirst=True)
    if not _increasing(day_first):
        return None
    out = pd.Series(pd.NaT, index=text.index, dtype=day_first.dtype)
    out[filled.index] = day_first
    return out, "timestamps read day-first (DD/MM/YYYY)"


def integer_epochs(values: pd.Series) -> tuple[pd.Series, str] | None:
    """An all-integer column read as epoch seconds/ms/us/ns or YYYYMMDD, or None."""
    if pd.api.types.is_integer_dtype(values.dtype):
        text = values.astype("Int64").astype(str)
    elif pd.api.types.is_float_dtype(values.dtype):
        v = values.dropna()
        if v.empty or (v != v.round()).any():
            return None
        text = values.astype("Int64").astype(str)
    else:
        text = values.astype(str).str.strip()
    filled = text[(text != "") & (text != "<NA>")]
    if filled.empty or not filled.str.match(_DIGITS.pattern).all():
        return None
    lengths = set(filled.str.len())
    if lengths == {8}:
        parsed = pd.to_datetime(filled, format="%Y%m%d", errors="coerce")
        note = "timestamps read as YYYYMMDD"
    elif len(units := {EPOCH_UNITS.get(n) for n in lengths}) == 1 and None not in units:
        unit = units.pop()
        parsed = pd.to_datetime(filled.astype("int64"), unit=unit, utc=True, errors="coerce")
        note = f"integer timestamps read as epoch {UNIT_NAMES[unit]} since 1970 (UTC)"
    else:
        return None
    out = pd.Series(pd.NaT, index=values.index, dtype=parsed.dtype)
    out[filled.index] = parsed
    return out, note
