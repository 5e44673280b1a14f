"""Samples, windows, walk-forward calendar and the combined feature table."""

from tradeformer.dataset.calendar import Calendar, Fold, make_calendar
from tradeformer.dataset.table import write_table
from tradeformer.dataset.universe import Scaler, Universe, load_universe, make_batch

__all__ = [
    "Calendar",
    "Fold",
    "Scaler",
    "Universe",
    "load_universe",
    "make_batch",
    "make_calendar",
    "write_table",
]
