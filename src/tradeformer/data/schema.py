"""Canonical bar schema: column names, aliases and timeframes."""

from __future__ import annotations

import re
from enum import StrEnum

import numpy as np
import pandas as pd

from tradeformer.errors import InputError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OHLCV_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
OPTIONAL_COLUMNS: tuple[str, ...] = ("adj_close",)
TIMESTAMP = "timestamp"
SYMBOL = "symbol"

# lower-cased, separators removed -> canonical name
_ALIASES: dict[str, str] = {
    "timestamp": TIMESTAMP,
    "date": TIMESTAMP,
    "datetime": TIMESTAMP,
    "time": TIMESTAMP,
    "ts": TIMESTAMP,
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
    "vol": "volume",
    "v": "volume",
    "symbol": SYMBOL,
    "ticker": SYMBOL,
}


def canonical_column(name: object) -> str | None:
    """Map a user column name (`Adj Close`, `Datetime`, `OPEN`...) to its canonical name."""
    key = re.sub(r"[\s_\-\.]", "", str(name)).lower()
    return _ALIASES.get(key)


class Timeframe(StrEnum):
    """Bar sizes the data layer knows. Intraday ones are anchored at the session open."""

    M1 = "1min"
    M5 = "5min"
    M15 = "15min"
    M30 = "30min"
    H1 = "1H"
    H4 = "4H"
    D1 = "1D"
    W1 = "1W"
    MO1 = "1M"

    @property
    def is_intraday(self) -> bool:
        return self in _INTRADAY_MINUTES

    @property
    def minutes(self) -> int:
        """Length of an intraday bar in minutes (ValueError for D/W/M)."""
        if not self.is_intraday:
            raise ValueError(f"{self.value} is not an intraday timeframe")
        return _INTRADAY_MINUTES[self]

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """Parse `1h`, `1H`, `60min`, `4h`, `1d`, `D`, `1wk`, `1mo`, `1M`..."""
        t = text.strip()
        if t in ("1M", "M", "1mo", "1MO", "1month", "monthly"):
            return cls.MO1
        low = t.lower()
        table = {
            "1min": cls.M1,
            "1m": cls.M1,
            "5min": cls.M5,
            "5m": cls.M5,
            "15min": cls.M15,
            "15m": cls.M15,
            "30min": cls.M30,
            "30m": cls.M30,
            "1h": cls.H1,
            "60min": cls.H1,
            "60m": cls.H1,
            "h": cls.H1,
            "hourly": cls.H1,
            "4h": cls.H4,
            "240min": cls.H4,
            "1d": cls.D1,
            "d": cls.D1,
            "daily": cls.D1,
            "1day": cls.D1,
            "1w": cls.W1,
            "w": cls.W1,
            "1wk": cls.W1,
            "weekly": cls.W1,
        }
        if low in table:
            return table[low]
        raise InputError(
            f"unknown timeframe {text!r}; use one of {', '.join(m.value for m in cls)}"
        )


_INTRADAY_MINUTES: dict[Timeframe, int] = {
    Timeframe.M1: 1,
    Timeframe.M5: 5,
    Timeframe.M15: 15,
    Timeframe.M30: 30,
    Timeframe.H1: 60,
    Timeframe.H4: 240,
}

TIMEFRAME_ORDER: tuple[Timeframe, ...] = tuple(Timeframe)


def to_ns(values) -> np.ndarray:
    """int64 nanoseconds since the epoch (UTC for tz-aware values; NaT -> int64 min)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if s.dtype != _NS:  # (comparing to a dtype object: parsing "datetime64[ns]" costs ~0.1 ms)
        s = s.astype(_NS)
    out = np.asarray(s.to_numpy()).view("int64")
    return out if out.flags.writeable else out.copy()  # callers may write into it


_NS = np.dtype("datetime64[ns]")
