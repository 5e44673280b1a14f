"""Feature pipeline: store -> tables, cache, parallel workers, no NaN after warm-up."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tradeformer.cli import app
from tradeformer.data import BarStore, load_bars, resample
from tradeformer.errors import NotFoundError
from tradeformer.features import (
    CLASSICAL_COLUMNS,
    WARMUP_BARS,
    FeatureConfig,
    build_features,
    classical_features,
    load_features,
)


@pytest.fixture(scope="module")
def small_store(shared_data, tmp_path_factory):
    """Daily bars of 4 symbols plus the hourly bars of two of them, in one store."""
    root = tmp_path_factory.mktemp("store")
    daily = load_bars(shared_data / "daily", symbols=["AAPL", "MSFT", "XOM", "KO"])
    hourly = load_bars(shared_data / "hourly", symbols=["AAPL", "MSFT"])
    store = BarStore(root)
    store.write_many(
        {"1H": hourly.bars, "4H": {s: resample(f, "4H") for s, f in hourly.bars.items()}},
        base_timeframe="1H",
    )
    store.write_many({"1D": daily.bars}, base_timeframe="1D")
    return root


def test_build_cache_and_invalidation(small_store, tmp_path):
    out = tmp_path / "feat"
    m = build_features(small_store, out, workers=2, progress=False)
    assert m["timeframe"] == "1D"
    assert m["last_build"] == {"computed": 4, "reused": 0}
    assert m["symbols"]["AAPL"]["intraday"] == "1H"
    assert m["symbols"]["KO"]["intraday"] is None
    assert m["symbols"]["AAPL"]["mtf"]["available"]["1H"] is True
    assert m["symbols"]["KO"]["mtf"]["available"]["1H"] is False
    table = load_features(out, "AAPL")
    assert list(table.columns) == ["timestamp", *CLASSICAL_COLUMNS, *m["label_columns"]]
    assert len(CLASSICAL_COLUMNS) == 29

    again = build_features(small_store, out, workers=2, progress=False)
    assert again["last_build"] == {"computed": 0, "reused": 4}

    other = build_features(
        small_store, out, FeatureConfig(horizons=(1, 5)), workers=1, progress=False
    )
    assert other["last_build"]["computed"] == 4
    assert "ret_1" in load_features(out, "KO").columns
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["config"]["horizons"] == [1, 5]


def test_same_result_in_process_and_in_pool(small_store, tmp_path):
    a = build_features(small_store, tmp_path / "a", workers=1, progress=False)
    build_features(small_store, tmp_path / "b", workers=2, progress=False)
    for s in a["symbols"]:
        pd.testing.assert_frame_equal(
            load_features(tmp_path / "a", s), load_features(tmp_path / "b", s)
        )


def test_unknown_symbol(small_store, tmp_path):
    with pytest.raises(NotFoundError, match="NOPE"):
        build_features(small_store, tmp_path, symbols=["NOPE"], progress=False)


def test_no_nan_after_warmup_on_every_real_symbol(shared_data):
    worst = 0
    for path in sorted((shared_data / "daily").glob("*.parquet")):
        bars = pd.read_parquet(path)
        table, _ = classical_features(bars, timeframe="1D")
        feats = table[list(CLASSICAL_COLUMNS)].to_numpy()
        assert np.isfinite(feats[WARMUP_BARS:]).all(), path.stem
        first_ok = int(np.argmax(np.isfinite(feats).all(axis=1)))
        worst = max(worst, first_ok)
    assert worst <= WARMUP_BARS
    for path in sorted((shared_data / "hourly").glob("*.parquet")):
        table, _ = classical_features(pd.read_parquet(path), timeframe="1H")
        assert np.isfinite(table[list(CLASSICAL_COLUMNS)].to_numpy()[WARMUP_BARS:]).all()


def test_cli_features_build(small_store, tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "features",
            "build",
            "--data",
            str(small_store),
            "--out",
            str(tmp_path / "f"),
            "--workers",
            "1",
            "--no-intraday",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "4 computed" in res.output
    assert "unavailable" in res.output
    bad = CliRunner().invoke(
        app,
        [
            "features",
            "build",
            "--data",
            str(small_store),
            "--out",
            str(tmp_path / "g"),
            "--label-kind",
            "pct",
        ],
    )
    assert bad.exit_code == 2 and "label_kind" in bad.output  # ConfigError
