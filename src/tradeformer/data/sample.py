"""The bundled sample: real daily bars that ship inside the package (see sample_data/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from tradeformer.data.loading import LoadedBars, load_bars

SAMPLE_DIR = Path(__file__).parent / "sample_data"
SAMPLE_SYMBOLS = ("GSPC", "IXIC", "MSFT")


def sample_path() -> Path:
    """Directory with the bundled per-symbol Parquet files."""
    return SAMPLE_DIR


def load_sample(**kwargs) -> LoadedBars:
    """Load and validate the bundled sample (keyword arguments go to `load_bars`)."""
    return load_bars(SAMPLE_DIR, **kwargs)
