"""Shared fixtures: real OHLCV from ../shared/data (see its README), never copied into the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("TRADEFORMER_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "daily").is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set TRADEFORMER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def aapl_daily(shared_data: Path) -> pd.DataFrame:
    return pd.read_parquet(shared_data / "daily" / "AAPL.parquet")


@pytest.fixture(scope="session")
def aapl_hourly(shared_data: Path) -> pd.DataFrame:
    return pd.read_parquet(shared_data / "hourly" / "AAPL.parquet")


@pytest.fixture
def write_parquet(tmp_path: Path):
    """Write a frame as <tmp>/<folder>/<name>.parquet and return the folder."""

    def _write(frame: pd.DataFrame, name: str = "AAPL", folder: str = "bars") -> Path:
        d = tmp_path / folder
        d.mkdir(exist_ok=True)
        frame.to_parquet(d / f"{name}.parquet", index=False)
        return d

    return _write
