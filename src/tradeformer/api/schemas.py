"""Request bodies of the HTTP API (validated by pydantic: precise 422 messages)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.^=_-]{0,19}$"
MAX_BARS = 5000
MAX_BATCH = 200


class Bar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: datetime
    open: float = Field(gt=0, allow_inf_nan=False)
    high: float = Field(gt=0, allow_inf_nan=False)
    low: float = Field(gt=0, allow_inf_nan=False)
    close: float = Field(gt=0, allow_inf_nan=False)
    volume: float = Field(ge=0, allow_inf_nan=False)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    bars: list[Bar] = Field(min_length=1, max_length=MAX_BARS)

    @field_validator("bars")
    @classmethod
    def _ordered(cls, bars: list[Bar]) -> list[Bar]:
        for i in range(1, len(bars)):
            if bars[i].timestamp <= bars[i - 1].timestamp:
                raise ValueError(f"bars must be strictly increasing in time (index {i})")
        return bars


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PredictRequest] | None = Field(default=None, max_length=MAX_BATCH)
    symbols: list[str] | None = Field(default=None, max_length=MAX_BATCH)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, v: list[str] | None) -> list[str] | None:
        import re

        for s in v or []:
            if not re.match(SYMBOL_PATTERN, s):
                raise ValueError(f"invalid symbol {s!r}")
        return v
