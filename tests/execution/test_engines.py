"""Where a per-symbol stage runs cannot change what it returns: the process pool, this
process and a Dask LocalCluster give the same store, features, embeddings and 541-D table,
bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny_config
from tradeformer.config import ExecutionConfig
from tradeformer.dataset.prepare import prepare_data
from tradeformer.errors import SourceError
from tradeformer.execution import DaskEngine, ProcessEngine, make_engine

SYMBOLS = ("AAPL", "XOM", "KO", "JPM")


def _square(x: int) -> int:
    return x * x


def _power(x: int, p: int) -> int:
    return x**p


@pytest.mark.parametrize("workers", [1, 2])
def test_process_engine_keeps_the_items_order(workers):
    items = list(range(37))
    assert ProcessEngine(workers).map(_square, items) == [x * x for x in items]
    cubes = ProcessEngine(workers).map(_power, items, shared={"p": 3})
    assert cubes == [x**3 for x in items]


def test_dask_engine_keeps_the_items_order(dask_engine):
    assert dask_engine.workers == 2
    items = list(range(37))
    assert dask_engine.map(_square, items) == [x * x for x in items]
    p = dask_engine.broadcast(3)  # sent once, resolved in every task
    assert dask_engine.map(_power, items, shared={"p": p}) == [x**3 for x in items]


def test_engine_config_errors():
    with pytest.raises(ValueError, match=r"execution\.engine: dask"):
        ExecutionConfig(address="tcp://127.0.0.1:1")
    assert isinstance(make_engine(ExecutionConfig(workers=3)), ProcessEngine)
    with pytest.raises(SourceError, match="cannot reach the Dask scheduler"):
        DaskEngine("tcp://127.0.0.1:9")  # nothing listens on the discard port


@pytest.fixture(scope="module")
def four_symbols(shared_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bars4")
    for sym in SYMBOLS:
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        d = d[(d["timestamp"] >= "2009-01-01") & (d["timestamp"] < "2015-07-01")]
        d.to_parquet(root / f"{sym}.parquet", index=False)
    return root


def _prepared(source: Path, tmp: Path, execution: dict):
    cfg = tiny_config(source, tmp, execution=execution)
    return prepare_data(cfg, progress=False), Path(cfg.cache_dir)


def _files(root: Path, pattern: str) -> dict[str, Path]:
    """Files under `root` by path below their content-key folder (keys hold the tmp path)."""
    found = sorted(root.rglob(pattern))
    return {"/".join(p.relative_to(root).parts[1:]): p for p in found}


def _same_tables(a: dict[str, Path], b: dict[str, Path]) -> None:
    assert list(a) == list(b) and a
    for k in a:
        pd.testing.assert_frame_equal(
            pd.read_parquet(a[k]), pd.read_parquet(b[k]), check_exact=True
        )


def test_prepare_data_is_identical_on_the_pool_and_on_dask(four_symbols, tmp_path, monkeypatch):
    pool, pool_cache = _prepared(four_symbols, tmp_path / "pool", {"workers": 2})
    ran, dask_map = [], DaskEngine.map

    def recording_map(self, fn, items, **kw):
        ran.append(fn.__name__)
        return dask_map(self, fn, items, **kw)

    monkeypatch.setattr(DaskEngine, "map", recording_map)
    dask, dask_cache = _prepared(four_symbols, tmp_path / "dask", {"engine": "dask", "workers": 2})
    # every per-symbol stage went to the cluster
    assert ran == ["read_file", "check_symbol", "_build_one", "_embed_symbol", "write_part"]
    # the imported store (per-symbol files read and validated on the engine)
    _same_tables(
        _files(pool_cache / "stores", "*.parquet"), _files(dask_cache / "stores", "*.parquet")
    )
    # the 29 features + labels of every symbol
    _same_tables(
        _files(pool_cache / "features", "*.parquet"), _files(dask_cache / "features", "*.parquet")
    )
    # every embedding file (local encoder: trained here, applied per symbol on the workers)
    ea, eb = _files(pool_cache / "embeddings", "*.npy"), _files(dask_cache / "embeddings", "*.npy")
    assert list(ea) == list(eb) and len(ea) == len(SYMBOLS)
    for k in ea:
        np.testing.assert_array_equal(np.load(ea[k]), np.load(eb[k]))
    # the 541-D table, one part per symbol
    ta, tb = (
        _files(pool_cache / "dataset", "*.parquet"),
        _files(dask_cache / "dataset", "*.parquet"),
    )
    assert len(ta) == len(SYMBOLS)
    _same_tables(ta, tb)
    # and so the universe the networks train on
    np.testing.assert_array_equal(pool.universe.embedding, dask.universe.embedding)
    np.testing.assert_array_equal(pool.universe.context, dask.universe.context)
    np.testing.assert_array_equal(pool.universe.eligible, dask.universe.eligible)
    manifest = json.loads(next((dask_cache / "dataset").rglob("manifest.json")).read_text())
    assert manifest["symbols"] == sorted(SYMBOLS)
