"""Parquet store: round trip, manifest, fingerprints, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tradeformer.data import BarStore, load_sample, resample
from tradeformer.data.schema import OHLCV_COLUMNS as OHLCV
from tradeformer.data.store import frame_fingerprint, safe_name
from tradeformer.errors import NotFoundError


def test_round_trip_and_manifest(tmp_path):
    loaded = load_sample()
    store = BarStore(tmp_path / "s")
    weekly = {s: resample(f, "1W") for s, f in loaded.bars.items()}
    store.write_many({"1D": loaded.bars, "1W": weekly}, meta={"source": "t"}, base_timeframe="1D")
    assert store.timeframes() == ["1D", "1W"]
    assert store.symbols() == ["GSPC", "IXIC", "MSFT"]
    back = store.read("MSFT")
    pd.testing.assert_frame_equal(back, loaded.bars["MSFT"])
    w = store.read("GSPC", "1W")
    assert w["available_at"].dtype == "datetime64[ns, UTC]"
    m = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert m["entries"]["1D"]["MSFT"]["rows"] == 7983
    assert m["entries"]["1D"]["MSFT"]["sha256"] == frame_fingerprint(loaded.bars["MSFT"])
    assert m["meta"]["source"] == "t"


def test_fingerprint_changes_with_one_value(tmp_path):
    f = load_sample().bars["GSPC"]
    g = f.copy()
    g.loc[100, "close"] = g.loc[100, "close"] * (1 + 1e-12)
    assert frame_fingerprint(f) == frame_fingerprint(f.copy())
    assert frame_fingerprint(f) != frame_fingerprint(g)


def test_failed_write_leaves_nothing(tmp_path):
    good = load_sample().bars["GSPC"]
    bad = good.assign(volume=[object()] * len(good))  # not writable as Parquet
    store = BarStore(tmp_path / "s")
    with pytest.raises(Exception):  # noqa: B017 - any writer error will do
        store.write({"GSPC": good, "ZZZ": bad}, "1D")
    assert not (tmp_path / "s" / "manifest.json").exists()
    assert not list((tmp_path / "s").rglob("*.parquet"))


def test_not_a_store(tmp_path):
    with pytest.raises(NotFoundError, match="not a tradeformer store"):
        BarStore(tmp_path).symbols()


def test_safe_names():
    assert safe_name("BTC/USD") == "BTC_USD"
    assert safe_name("^GSPC") == "^GSPC"
    assert safe_name("BRK-B") == "BRK-B"


def test_relative_root_with_an_absolute_staging_path(tmp_path, monkeypatch):
    """Python 3.12's `tempfile.mkdtemp(dir=relative)` returns an absolute path; the store must
    still write under a relative root (the first `train` crashed there on 3.12). The 3.12
    behaviour is forced here so the test bites on any interpreter."""
    import tempfile

    real = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: os.path.abspath(real(**kw)))
    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame(
        {"timestamp": pd.bdate_range("2020-01-01", periods=5), **{c: 1.0 for c in OHLCV}}
    )
    store = BarStore(Path("rel") / "store")
    store.write({"AAPL": frame}, "1D")
    assert store.symbols() == ["AAPL"]
    assert not list((tmp_path / "rel" / "store").glob(".staging-*"))
