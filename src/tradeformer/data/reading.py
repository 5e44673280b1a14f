"""Read one bar file as it is: CSV text in any common dialect, or Parquet.

CSV files come from spreadsheets and brokers in many shapes. The reader settles, from the
file's first bytes, what a person would: the text encoding (UTF-8 with or without a BOM,
UTF-16 by its BOM, else Windows-1252 with a note), the delimiter (`,` `;` tab `|`, the one
the header line uses most) and decimal commas (`;`-separated files whose numbers read
`1234,5`). A file that is empty, binary or otherwise unreadable raises `UnreadableFile` with
one line saying why, never a parser's traceback.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")


class UnreadableFile(Exception):
    """A file no dialect reads (empty, binary, malformed): `str(e)` says why in one line."""


@dataclass
class Dialect:
    """How a CSV file was read, and notes worth a warning (encoding or decimals assumed)."""

    encoding: str = "utf-8"
    delimiter: str = ","
    decimal_comma: bool = False
    notes: list[str] = field(default_factory=list)


def _is_binary(head: bytes) -> bool:
    if not head:
        return False
    if b"\x00" in head:
        return True
    control = sum(b < 32 and b not in (9, 10, 13) for b in head)
    return control > 0.01 * len(head)


def sniff_encoding(head: bytes) -> tuple[str, list[str]]:
    """The encoding of a text file's first bytes; raises UnreadableFile for binary data."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", []
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", []
    if _is_binary(head):
        raise UnreadableFile("not a text file (binary content): is it really a CSV?")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not merely a character cut at the sniffing boundary
            return "cp1252", ["Windows-1252 text (not UTF-8)"]
    return "utf-8", []


def sniff_dialect(text: str) -> tuple[str, bool]:
    """(delimiter, decimal comma?) from the first lines of a CSV text."""
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if not lines:
        return ",", False
    header = lines[0]
    delimiter = max(DELIMITERS, key=lambda d: (header.count(d), d == ","))
    if header.count(delimiter) == 0:
        delimiter = ","
    decimal_comma = False
    if delimiter != ",":
        cells = [c.strip().strip('"') for ln in lines[1:] for c in ln.split(delimiter)]
        decimal_comma = any(_DECIMAL_COMMA.match(c) for c in cells)
    return delimiter, decimal_comma


def read_csv_text(path: Path) -> tuple[pd.DataFrame, Dialect]:
    """A CSV file as strings (no conversion), with the dialect it was read in."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise UnreadableFile(f"not a readable gzip file ({e})") from None
    if not head.strip():
        raise UnreadableFile("the file is empty")
    encoding, notes = sniff_encoding(head)
    text = head.decode(encoding, errors="replace")
    delimiter, decimal_comma = sniff_dialect(text)
    dialect = Dialect(encoding, delimiter, decimal_comma, notes)
    if delimiter != ",":
        name = {";": "';'", "\t": "tab", "|": "'|'"}[delimiter]
        dialect.notes.append(f"{name}-separated" + (", decimal commas" if decimal_comma else ""))
    kw = {"sep": delimiter, "encoding": encoding, "dtype": str}
    try:
        df = pd.read_csv(path, keep_default_na=False, **kw)
        header = pd.read_csv(path, header=None, nrows=1, **kw).iloc[0].tolist()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnreadableFile(f"not a readable CSV file ({first})") from None
    if len(header) == df.shape[1]:
        df.columns = header  # pandas renames a repeated `close` to `close.1`: undo that
    if decimal_comma:
        df = df.apply(_decimal_commas)
    else:
        df, grouped = _thousands_separators(df)
        if grouped:
            dialect.notes.append(f"numbers with thousands separators ({', '.join(grouped)})")
    return df, dialect


def _thousands_separators(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`"1,234,567.5"` -> `1234567.5` in columns whose every non-empty value reads that way
    (with at least one grouped value): quoted numbers from spreadsheets."""
    changed = []
    for k, col in enumerate(df.columns):  # by position: a file may repeat a column name
        text = df.iloc[:, k].astype(str).str.strip()
        if not text.str.contains(",", regex=False).any():
            continue
        filled = text[text != ""]
        grouped = filled.str.match(_GROUPED.pattern)
        if filled.empty or not grouped.any():
            continue
        if not (grouped | filled.str.match(r"^[+-]?\d+(\.\d+)?$")).all():
            continue
        df.isetitem(k, text.str.replace(",", "", regex=False))
        changed.append(str(col))
    return df, changed


def _decimal_commas(col: pd.Series) -> pd.Series:
    """`1.234,5` -> `1234.5` where every non-empty value of the column reads that way."""
    text = col.astype(str).str.strip()
    filled = text[text != ""]
    if filled.empty or not filled.str.match(_DECIMAL_COMMA.pattern + r"|^[+-]?\d+$").all():
        return col
    return text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several unrelated classes for a bad file
        if Path(path).stat().st_size == 0:
            raise UnreadableFile("the file is empty") from None
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UnreadableFile(f"not a readable Parquet file ({first})") from None
