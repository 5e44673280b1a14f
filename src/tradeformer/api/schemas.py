"""Request bodies of the HTTP API (validated by pydantic: precise 422 messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.^=_-]{0,19}$"
MAX_BARS = 5000
MAX_BATCH = 200
MAX_BATCH_BARS = 1000  # bars per item of a batch: 200 x 1,000 bars is ~3 MB of JSON


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


class BatchItem(PredictRequest):
    """One symbol's bars in a batch (fewer bars than a single request may carry)."""

    bars: list[Bar] = Field(min_length=1, max_length=MAX_BATCH_BARS)


class ItemsBatch(BaseModel):
    """Predict each item from the bars it carries (a symbol may appear more than once)."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)


class SymbolsBatch(BaseModel):
    """Predict each symbol from the server's store."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[Annotated[str, Field(pattern=SYMBOL_PATTERN)]] = Field(
        min_length=1, max_length=MAX_BATCH
    )


# exactly one of the two (each forbids the other's key): stated in the schema as anyOf
BatchRequest = ItemsBatch | SymbolsBatch


class ErrorBody(BaseModel):
    """Every error: a message, or (422) the list of problems found."""

    detail: str | list[Any]


class Prediction(BaseModel):
    """One symbol's next trade. A raw bundle gives `expected_return` (the ensemble's
    forecast return at its horizon); a cross-sectional bundle gives `score` instead: the
    symbol's per-date rank in [-1, 1] within its training universe at `score_horizon` bars
    (`score_kind: cs_rank`), never a return. Every other field is a member's forecast named
    `<member>_<quantity>[_<horizon>]` (`tft_ret_5`, `timeformer_score_3`, ...): a number, or
    null where it is not finite."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, float | int | None] = Field(init=False)

    symbol: str
    timestamp: str
    action: Literal["BUY", "SELL", "HOLD"]
    expected_return: float | None = None
    score: float | None = None
    score_horizon: int | None = None
    score_kind: str | None = None
    confidence: float | None
    veto_prob: float | None
    target: str | None = None
    cross_section_size: int | None = None
    bundle_version: str | None = None  # the bundle that answered (a registry's version)


class ItemError(BaseModel):
    """A symbol of a batch that could not be predicted (the others were)."""

    symbol: str
    status: int
    detail: str


class BatchResponse(BaseModel):
    predictions: list[Prediction]
    errors: list[ItemError] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ModelInfo(BaseModel):
    """The bundle behind the server (`cross_sectional`: outputs are scores, see Prediction)."""

    model_config = ConfigDict(extra="allow")

    bundle_version: str
    created_at: str
    versions: dict[str, str]
    embedding: dict[str, Any]
    schema_: dict[str, Any] = Field(alias="schema")
    members: dict[str, str]
    calendar: dict[str, Any]
    ensemble: dict[str, Any]
    veto_threshold: float
    min_bars: int
    cross_sectional: bool
    target: str
    universe_size: int
