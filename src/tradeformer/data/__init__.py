"""Data layer: load, validate, adjust, resample and store OHLCV bars."""

from tradeformer.data.adjust import adjust_ohlc
from tradeformer.data.loading import LoadedBars, load_bars, normalize_table, read_table
from tradeformer.data.resample import resample, with_available_at
from tradeformer.data.sample import load_sample, sample_path
from tradeformer.data.schema import OHLCV_COLUMNS, Timeframe
from tradeformer.data.store import BarStore
from tradeformer.data.timeframes import infer_timeframe
from tradeformer.data.validation import (
    DataValidationError,
    Issue,
    Rule,
    ValidationReport,
    validate_bars,
)

__all__ = [
    "OHLCV_COLUMNS",
    "BarStore",
    "DataValidationError",
    "Issue",
    "LoadedBars",
    "Rule",
    "Timeframe",
    "ValidationReport",
    "adjust_ohlc",
    "infer_timeframe",
    "load_bars",
    "load_sample",
    "normalize_table",
    "read_table",
    "resample",
    "sample_path",
    "validate_bars",
    "with_available_at",
]
