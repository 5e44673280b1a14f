"""Predictor: the same numbers as the training run's test predictions, single = batch, store =
raw bars = CLI, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import tiny_config
from tradeformer.cli import app
from tradeformer.data import DataValidationError
from tradeformer.errors import NotFoundError
from tradeformer.inference import Predictor, predict_next_trade
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="module")
def trained(tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    summary = run_training(tiny_config(tiny_source, tmp), progress=False)
    store = next((tmp / "cache" / "stores").iterdir())
    return summary, Predictor.load(summary["bundle"]), store


def _bars(tiny_source: Path, sym: str) -> pd.DataFrame:
    return pd.read_parquet(tiny_source / f"{sym}.parquet").reset_index(drop=True)


def test_matches_the_training_runs_test_predictions(trained, tiny_source):
    summary, pred, _ = trained
    expected = pd.read_parquet(Path(summary["run_dir"]) / "test_predictions.parquet")
    for sym in ("AAPL", "XOM"):
        bars = _bars(tiny_source, sym)
        exp = expected[expected["symbol"] == sym]
        for ts in exp["timestamp"].iloc[[0, len(exp) // 2, -1]]:
            t = int(np.flatnonzero(bars["timestamp"] == ts)[0])
            got = pred.predict_bars({sym: bars.iloc[: t + 1]}).iloc[0]
            row = exp[exp["timestamp"] == ts].iloc[0]
            assert got["timestamp"] == ts
            for col in ("expected_return", "timeformer_ret", "tft_ret", "veto_prob"):
                assert got[col] == pytest.approx(row[col], rel=1e-4, abs=1e-7), (sym, ts, col)
            assert got["action"] == row["action"]


def test_batch_equals_single_and_store_equals_bars(trained, tiny_source):
    _, pred, store = trained
    bars = {s: _bars(tiny_source, s) for s in ("AAPL", "XOM")}
    batch = pred.predict_bars(bars).set_index("symbol")
    for sym, b in bars.items():
        single = pred.predict_bars({sym: b}).set_index("symbol")
        pd.testing.assert_frame_equal(batch.loc[[sym]], single, rtol=1e-5)
    from_store = pred.predict_store(store).set_index("symbol")
    pd.testing.assert_frame_equal(from_store, batch, rtol=1e-5)
    d = predict_next_trade(pred, "XOM", store)
    assert d["action"] in ("BUY", "SELL", "HOLD")
    assert set(d) >= {"expected_return", "confidence", "stockformer_ret", "tft_ret", "veto_prob"}
    assert "tft_q_range_10" in d


def test_clear_errors(trained, tiny_source):
    _, pred, store = trained
    bars = _bars(tiny_source, "AAPL")
    with pytest.raises(DataValidationError, match="history_shorter_than_lookback"):
        pred.predict_bars({"AAPL": bars.iloc[:100]})
    bad = bars.copy()
    bad.loc[len(bad) - 1, "high"] = 1.0
    with pytest.raises(DataValidationError, match="high_below_open_close"):
        pred.predict_bars({"AAPL": bad})
    with pytest.raises(NotFoundError, match="NOPE"):
        pred.predict_store(store, ["NOPE"])


def test_cli_predict_same_numbers(trained, tmp_path):
    summary, pred, store = trained
    out = tmp_path / "pred.csv"
    res = CliRunner().invoke(
        app,
        [
            "predict",
            "--bundle",
            summary["bundle"],
            "--data",
            str(store),
            "AAPL",
            "XOM",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    cli = pd.read_csv(out).set_index("symbol")
    api = pred.predict_store(store, ["AAPL", "XOM"]).set_index("symbol")
    np.testing.assert_allclose(cli["veto_prob"], api["veto_prob"], rtol=1e-6)
    assert list(cli["action"]) == list(api["action"])


def test_store_prediction_is_the_training_runs_last_test_row(trained):
    """From a store the predictor uses the whole history (and intraday bars if any), as the
    training features did: its output equals the run's own prediction for the last bar."""
    summary, pred, store = trained
    expected = pd.read_parquet(Path(summary["run_dir"]) / "test_predictions.parquet")
    last = expected.groupby("symbol").tail(1).set_index("symbol")
    got = pred.predict_store(store).set_index("symbol")
    assert list(got["timestamp"]) == list(last.loc[got.index, "timestamp"])
    for col in ("expected_return", "timeformer_ret", "tft_ret", "veto_prob"):
        np.testing.assert_allclose(got[col], last.loc[got.index, col], rtol=1e-5, atol=1e-8)


def test_store_reads_are_cached_until_the_store_changes(trained, tmp_path):
    import shutil

    from tradeformer.data import BarStore

    _, pred, store = trained
    root = tmp_path / "store"
    shutil.copytree(store, root)
    first = pred.predict_store(root, ["AAPL"])
    assert any("AAPL" in k for k in pred._bars_cache)
    assert len(pred._feature_cache) >= 1
    pd.testing.assert_frame_equal(pred.predict_store(root, ["AAPL"]), first)
    # cached rows for some symbols, fresh ones for others: the same numbers as all fresh
    both = pred.predict_store(root, ["XOM", "AAPL"]).set_index("symbol")
    pred.clear_cache()
    cold = pred.predict_store(root, ["XOM", "AAPL"]).set_index("symbol")
    pd.testing.assert_frame_equal(both, cold)
    st = BarStore(root)
    tf = st.default_timeframe()
    bars = st.read("AAPL", tf)
    last = bars.index[-1]
    bars.loc[last, ["open", "high", "low", "close"]] *= 1.2  # a jump on the last bar
    st.write({"AAPL": bars}, tf)
    after = pred.predict_store(root, ["AAPL"])
    assert after["expected_return"].iloc[0] != first["expected_return"].iloc[0]
    fresh = Predictor.load(pred.bundle.folder).predict_store(root, ["AAPL"])
    pd.testing.assert_frame_equal(after, fresh)


def test_serving_features_equal_training_features_with_intraday(trained, shared_data):
    """The predictor's panel features (several symbols at once, hourly bars feeding the 4H/1H
    columns) equal the training code's per-symbol features on every row the networks read."""
    from tradeformer.features.columns import CLASSICAL_COLUMNS
    from tradeformer.features.pipeline import classical_features

    _, pred, _ = trained
    bars, intraday = {}, {}
    for k, sym in enumerate(("AAPL", "TSLA", "MSFT")):
        daily = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        bars[sym] = daily.iloc[: len(daily) - 50 * k].reset_index(drop=True)  # ragged
        hourly = shared_data / "hourly" / f"{sym}.parquet"
        if hourly.exists():
            intraday[sym] = (pd.read_parquet(hourly), "1H")
    assert intraday, "the shared data should hold hourly bars for these symbols"
    ctx, px, ts = pred._features(list(bars), bars, dict.fromkeys(bars, "1D"), intraday)
    for s, (sym, b) in enumerate(bars.items()):
        fine, fine_tf = intraday.get(sym, (None, None))
        table, info = classical_features(
            b, pred.features, timeframe="1D", intraday=fine, intraday_timeframe=fine_tf
        )
        ref = table[list(CLASSICAL_COLUMNS)].to_numpy(dtype="float32")[-pred.min_bars :]
        last = slice(pred.min_bars - pred.lookback, None)  # the rows the networks read
        np.testing.assert_array_equal(ctx[s, last], ref[last], err_msg=sym)
        assert (ts[s] == b["timestamp"].to_numpy().astype("int64")[-pred.min_bars :]).all()
        ohlcv = b[["open", "high", "low", "close", "volume"]].to_numpy(dtype="float64")
        np.testing.assert_array_equal(px[s], ohlcv[-pred.min_bars :])
        if sym in intraday:
            assert info["mtf"]["source"]["1H"] == "intraday"
            assert np.abs(ctx[s, last, CLASSICAL_COLUMNS.index("mtf_1H")]).sum() > 0


def test_store_caches_stay_within_their_bounds(trained):
    _, pred, store = trained
    pred.clear_cache()
    limit, max_bytes = pred.cache_limit, pred.cache_bytes
    try:
        pred.cache_limit = 2
        pred.predict_store(store)  # more symbols than the limit
        assert len(pred._bars_cache) <= 2 and len(pred._feature_cache) <= 2
        pred.cache_limit, pred.cache_bytes = 1000, 1
        pred.clear_cache()
        first = pred.predict_store(store)
        assert not pred._bars_cache and not pred._feature_cache  # nothing fits in 1 byte
        pd.testing.assert_frame_equal(pred.predict_store(store), first)
    finally:
        pred.cache_limit, pred.cache_bytes = limit, max_bytes


def test_batch_features_on_a_dask_cluster_give_the_same_predictions(trained, dask_engine):
    _, pred, store = trained
    pred.clear_cache()
    here = pred.predict_store(store)
    pred.clear_cache()
    pred.engine = dask_engine  # the symbols' features split into chunks over 2 workers
    try:
        there = pred.predict_store(store)
    finally:
        pred.engine = None
    pd.testing.assert_frame_equal(here, there, check_exact=True)
