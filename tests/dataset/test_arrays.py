"""The array store: memory-mapped universe columns equal the in-RAM universe bit for bit,
copy-on-write labels never reach the cache, chunked gathers equal plain indexing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import tiny_config
from tradeformer.dataset.arrays import ArrayStore, PageBound, finite_rows, gather_columns, release
from tradeformer.dataset.prepare import prepare_data
from tradeformer.dataset.universe import load_universe

FIELDS = ("timestamps", "ohlcv", "context", "embedding", "ret", "direction", "eligible", "offsets")


def test_gather_columns_and_finite_rows_equal_plain_numpy(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 40)).astype("float16")
    x[rng.integers(0, 5000, 30), rng.integers(0, 40, 30)] = np.nan
    mm = ArrayStore(tmp_path).array("x", x.shape, "float16", lambda out: out.__setitem__(..., x))
    rows = np.sort(rng.choice(5000, 1700, replace=False))
    for a, b in ((0, 40), (8, 24), (32, 40)):
        np.testing.assert_array_equal(gather_columns(mm, rows, a, b, chunk=300), x[rows, a:b])
    np.testing.assert_array_equal(finite_rows(mm, chunk=777), np.isfinite(x).all(axis=1))
    pages = PageBound(mm, every=2)
    for _ in range(5):
        pages.tick()
    release(x)  # an in-RAM array: a no-op
    np.testing.assert_array_equal(np.asarray(mm), x)  # released pages read back the same


def test_group_reopens_and_copy_on_write_stays_private(tmp_path):
    store, calls = ArrayStore(tmp_path / "a"), []
    specs = {"a": ((10,), "float32"), "b": ((10, 2), "int64")}

    def fill(out):
        calls.append(1)
        out["a"][:] = np.arange(len(out["a"]))
        out["b"][:] = 7

    first = store.group(specs, fill, modes={"b": "c"})
    again = store.group(specs, fill, modes={"b": "c"})
    assert len(calls) == 1  # the second call opened the files
    with pytest.raises(ValueError, match="read-only"):
        again["a"][0] = 1
    again["b"][0] = -1  # private to this map
    assert store.group(specs, fill)["b"][0, 0] == 7 and first["b"][0, 0] == 7
    store.group({"a": ((11,), "float32"), "b": specs["b"]}, fill)  # a new shape: rewritten
    assert len(calls) == 2


def test_mapped_universe_equals_the_in_ram_one(tiny_source, tmp_path):
    data = prepare_data(tiny_config(tiny_source, tmp_path), progress=False)
    args = (data.store.root, data.features_dir, data.embeddings_dir)
    kw = {"timeframe": data.timeframe, "symbols": data.symbols, "horizons": data.horizons}
    ram = load_universe(*args, **kw, lookback=60)
    mapped = data.universe
    assert isinstance(mapped.context, np.memmap) and not isinstance(ram.context, np.memmap)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(ram, f), getattr(mapped, f), err_msg=f)
    cached = load_universe(*args, **kw, lookback=60, arrays=mapped.meta["arrays"])
    rows = np.flatnonzero(np.isfinite(cached.ret[:, 0]))[:50]
    cached.ret[rows] = 0.0  # a label hook's in-place edit
    fresh = load_universe(*args, **kw, lookback=60, arrays=mapped.meta["arrays"])
    np.testing.assert_array_equal(fresh.ret, ram.ret)  # the cache file never changed
