"""Shared fixtures: real OHLCV from ../shared/data (see its README), never copied into the repo."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeformer.config import ExperimentConfig

ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("TRADEFORMER_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data()
HAVE_SHARED = (SHARED_DATA / "daily").is_dir()

# Every symbol a test reads by name; without ../shared each is a stand-in (a rotated real
# bundled series, `tradeformer.data.surrogate`), hourly bars are split from daily ones.
STAND_IN_DAILY = (
    "AAPL", "AMD", "CAT", "CCL", "CHTR", "CSCO", "INTC", "JPM", "KO", "MSFT",
    "NVDA", "PFE", "PG", "TSLA", "WMT", "XOM",
)  # fmt: skip
STAND_IN_RECENT = ("AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA")
STAND_IN_HOURLY = (*STAND_IN_RECENT, "AMD", "INTC", "TSM", "SPX500", "NAS100", "US30")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_data: needs the full real set in ../shared/data (skipped without it)"
    )


def pytest_collection_modifyitems(config, items):
    if HAVE_SHARED:
        return
    skip = pytest.mark.skip(reason=f"needs the real data set at {SHARED_DATA}")
    for item in items:
        if "real_data" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    passed = [r for r in stats.get("passed", []) if r.when == "call"]
    real = sum("real_data" in r.keywords for r in passed)
    skipped = len(stats.get("skipped", []))
    terminalreporter.write_line(
        f"test tiers: {len(passed) - real} self-contained passed, {real} real-data passed, "
        f"{skipped} skipped; real data {'at ' + str(SHARED_DATA) if HAVE_SHARED else 'absent'}"
    )


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory) -> Path:
    """The real set when present, else a folder of stand-ins laid out the same way."""
    if HAVE_SHARED:
        return SHARED_DATA
    from tradeformer.data.surrogate import write_stand_in_tree

    root = tmp_path_factory.mktemp("stand_in_data")
    return write_stand_in_tree(root, STAND_IN_DAILY, STAND_IN_RECENT, STAND_IN_HOURLY)


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


@pytest.fixture(scope="session")
def tiny_source(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("bars")
    for sym in ("AAPL", "XOM"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        d = d[(d["timestamp"] >= "2009-01-01") & (d["timestamp"] < "2015-07-01")]
        d.to_parquet(root / f"{sym}.parquet", index=False)
    return root


def tiny_config(source, tmp, **over) -> ExperimentConfig:
    raw = {
        "name": "tiny",
        "seed": 7,
        "runs_dir": str(tmp / "runs"),
        "cache_dir": str(tmp / "cache"),
        "write_dataset_table": True,
        "data": {"source": str(source)},
        "embedding": {"backend": "local", "local_steps": 15, "batch_size": 512},
        "calendar": {"test_start": "2015-01-01", "n_folds": 2, "val_bars": 120, "embargo_bars": 3},
        "models": {
            "timeformer": {
                "preset": "small",
                "overrides": {"d_model": 16, "n_heads": 2, "ffn_dim": 32, "n_layers": 1},
            },
            "tft": {
                "preset": "small",
                "overrides": {"hidden": 8, "n_heads": 2, "var_dim": 4, "select_dim": 4},
            },
        },
        "training": {
            "lookback": 60,
            "epochs": 2,
            "batch_size": 64,
            "max_samples_per_epoch": 256,
            "max_eval_samples": 200,
            "num_threads": 1,
        },
        "veto": {"num_boost_round": 30, "early_stopping_rounds": 10},
    }
    for k, v in over.items():
        raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) else v
    return ExperimentConfig(**raw)


def iid_bars(folder: Path, n_symbols: int = 8, seed: int = 0, start: str = "2009-01-02") -> Path:
    """A no-signal universe: i.i.d. Gaussian log returns with the real daily volatilities,
    high-low ranges and volumes of the bundled sample's series (recycled), on business days
    `start` .. 2015-06. No return is predictable from anything before it."""
    from tradeformer.data import load_sample

    real = list(load_sample().bars.values())
    dates = pd.bdate_range(start, "2015-06-30")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_symbols):
        src = real[k % len(real)].tail(len(dates)).reset_index(drop=True)
        vol = np.diff(np.log(src["close"].to_numpy())).std() * rng.uniform(0.7, 1.4)
        close = 50 * np.exp(np.cumsum(rng.normal(0, vol, len(dates))))
        opn = close * np.exp(rng.normal(0, vol / 3, len(dates)))
        span = np.abs(np.log(src["high"] / src["low"]).to_numpy())
        span = rng.permutation(span) * 0.5
        frame = pd.DataFrame(
            {
                "timestamp": dates,
                "open": opn,
                "high": np.maximum(opn, close) * np.exp(span),
                "low": np.minimum(opn, close) * np.exp(-span),
                "close": close,
                "volume": rng.permutation(src["volume"].to_numpy()).astype("float64"),
            }
        )
        frame.to_parquet(folder / f"IID{k:02d}.parquet", index=False)
    return folder


CROSS_SECTIONAL = {
    "target": {"kind": "cs_rank"},
    "normalization": {"context": "cs_rank", "embedding": "cs_zscore", "market_context": True},
    "training": {"batching": "dates", "rank_loss_weight": 0.5, "select_on": "rank_ic"},
    "ensemble": {"combine": "ranks"},
    "veto": {"coverage": 0.3},
}


@pytest.fixture(scope="session")
def dask_engine():
    """One Dask LocalCluster of 2 single-threaded worker processes for the whole session."""
    from tradeformer.execution import DaskEngine

    engine = DaskEngine(workers=2)
    yield engine
    engine.close()
