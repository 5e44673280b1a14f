"""The cross-sectional mode end to end on a no-signal universe (generated, no ../shared),
with the two networks and the boosted ranking member, weights chosen on the OOF rows:
train -> evaluate reports rank ICs whose intervals include 0 for every member and the
ensemble; serving from the store, and `evaluate --bundle` on the training data itself, equal
the training run's test predictions; raw-bar requests without the universe are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CROSS_SECTIONAL, iid_bars, tiny_config
from tradeformer.config import ExperimentConfig
from tradeformer.evaluation import evaluate_run
from tradeformer.inference import Predictor
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="module")
def cs_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cs")
    source = iid_bars(tmp / "bars", n_symbols=8, seed=3, start="2005-01-03")
    # ~4.5 test years (1,130 dates): enough blocks for a date bootstrap to mean something
    cal = {"calendar": {"test_start": "2011-01-01", "n_folds": 2, "val_bars": 250}}
    over = dict(CROSS_SECTIONAL, ensemble={"combine": "ranks", "weighting": "oof_rank_ic"})
    cfg = tiny_config(source, tmp, **over, **cal)
    models = {k: v.model_dump() for k, v in cfg.models.items()}
    models["gbm"] = {"kind": "gbm", "overrides": {"min_data_in_leaf": 50, "num_boost_round": 60}}
    cfg = ExperimentConfig(**dict(cfg.model_dump(), models=models))
    summary = run_training(cfg, progress=False)
    ev = evaluate_run(summary["run_dir"], n_boot=200)
    store = next((tmp / "cache" / "stores").iterdir())
    return summary, ev, store, source


def test_no_signal_universe_gives_rank_ic_intervals_that_include_zero(cs_run):
    _, ev, _, _ = cs_run
    xs = ev["cross_section"]["by_horizon"]
    for h, block in xs.items():
        for name in ("timeformer", "tft", "gbm", "ensemble"):
            lo, hi = block[name]["date_rank_ic_ci"]
            assert lo < 0 < hi, (h, name, block[name]["date_rank_ic"])
            assert abs(block[name]["date_rank_ic_nw_t"]) < 3
    for h, block in ev["cross_section"]["ensemble_vs_baselines"].items():
        assert set(block) == {"classical_lgbm_xs", "xs_lgbm_full"}
        for name, d in block.items():  # paired on the same rows as the two scorecards
            assert d["ours"] == pytest.approx(xs[h]["ensemble"]["date_rank_ic"])
            assert d["theirs"] == pytest.approx(xs[h][name]["date_rank_ic"])
            lo, hi = d["difference_ci"]
            assert lo < d["difference"] < hi
    veto = ev["cross_section"]["veto"]
    assert 0.1 < veto["coverage"] < 0.6  # chosen on validation rows for 30 %
    assert abs(veto["base_rate_kept"] - 0.5) < 0.1  # above-median share of the kept rows


def test_training_records_the_cross_sectional_decision(cs_run):
    summary, _, _, _ = cs_run
    manifest = json.loads((Path(summary["bundle"]) / "manifest.json").read_text())
    d = manifest["decision"]
    assert d["cross_sectional"] and d["target"] == "cs_rank" and d["combine"] == "ranks"
    assert len(d["universe"]) == 8 and len(d["context_columns"]) == 34
    frame = pd.read_parquet(Path(summary["run_dir"]) / "test_predictions.parquet")
    day = frame.groupby("timestamp")["expected_return"].sum()
    assert np.abs(day).max() < 1e-6  # ranks combined: mean 0 on every date
    assert {"target_3", "target_dir_3"} <= set(frame.columns)


def test_serving_equals_the_training_runs_test_predictions(cs_run):
    summary, _, store, source = cs_run
    pred = Predictor.load(summary["bundle"])
    expected = pd.read_parquet(Path(summary["run_dir"]) / "test_predictions.parquet")
    last = expected["timestamp"].max()
    got = pred.predict_store(store).set_index("symbol")
    exp = expected[expected["timestamp"] == last].set_index("symbol").loc[got.index]
    assert (got["timestamp"] == last).all() and (got["cross_section_size"] == 8).all()
    # served as what they are: scores (per-date ranks), not returns
    pairs = {"score": "expected_return", "timeformer_score": "timeformer_ret"}
    pairs |= {"tft_score": "tft_ret", "gbm_score": "gbm_ret", "veto_prob": "veto_prob"}
    for col, train_col in pairs.items():
        np.testing.assert_allclose(got[col], exp[train_col], rtol=1e-4, atol=1e-6, err_msg=col)
    assert (got["action"] == exp["action"]).all()
    assert (got["score_horizon"] == 3).all() and (got["score_kind"] == "cs_rank").all()
    assert not [c for c in got.columns if "_ret" in c or c == "expected_return"]
    one = pred.predict_store(store, ["IID04"]).iloc[0]  # one symbol, ranked in the universe
    assert one["score"] == pytest.approx(got.loc["IID04", "score"])
    # an earlier test date: every universe symbol's bars cut there, as raw bars
    t = expected["timestamp"].drop_duplicates().iloc[40]
    bars = {p.stem: pd.read_parquet(p) for p in sorted(source.glob("*.parquet"))}
    cut = {s: b[b["timestamp"] <= t].reset_index(drop=True) for s, b in bars.items()}
    got_t = pred.predict_bars(cut).set_index("symbol")
    exp_t = expected[expected["timestamp"] == t].set_index("symbol").loc[got_t.index]
    np.testing.assert_allclose(got_t["score"], exp_t["expected_return"], atol=1e-6)
    np.testing.assert_allclose(got_t["veto_prob"], exp_t["veto_prob"], rtol=1e-4, atol=1e-6)


def test_raw_bars_without_the_universe_are_refused(cs_run):
    summary, _, _, source = cs_run
    pred = Predictor.load(summary["bundle"])
    bars = pd.read_parquet(source / "IID01.parquet")
    with pytest.raises(ValueError, match="cross-section of its 8-symbol training universe"):
        pred.predict_bars({"IID01": bars})


def test_report_shows_the_cross_sectional_scorecard(cs_run):
    from tradeformer.evaluation.report import render_report

    summary, ev, _, _ = cs_run
    page = render_report(summary["run_dir"])
    md = (page.parent / "summary.md").read_text()
    assert "Cross-sectional signal" in md and "LightGBM xs (context + market" in md
    assert "Random veto, same coverage" in md
    assert "The ensemble against the xs LightGBMs (paired, same rows)" in md
    assert f"{ev['cross_section']['by_horizon']['3']['ensemble']['date_rank_ic']:.4f}" in md


def test_symbols_outside_the_universe_are_refused_never_mixed_in(cs_run, tmp_path):
    """A store holding the universe plus another name: the universe's scores do not move,
    the other name is left out (no symbols asked) or refused (asked for), in any case."""
    from tradeformer.data import load_bars
    from tradeformer.data.sources import write_store
    from tradeformer.errors import InputError

    summary, _, store, source = cs_run
    pred = Predictor.load(summary["bundle"])
    base = pred.predict_store(store).set_index("symbol")
    extra = tmp_path / "bars"
    extra.mkdir()
    for p in source.glob("*.parquet"):
        (extra / p.name).write_bytes(p.read_bytes())
    iid_bars(tmp_path / "other", n_symbols=1, seed=99, start="2005-01-03")
    (tmp_path / "other" / "IID00.parquet").rename(extra / "OTHER.parquet")
    wider = write_store(load_bars(extra), tmp_path / "store", source=str(extra)).root
    got = pred.predict_store(wider).set_index("symbol")
    assert "OTHER" not in got.index
    np.testing.assert_allclose(got.loc[base.index, "score"], base["score"], atol=1e-7)
    with pytest.raises(InputError, match="outside this cross-sectional bundle"):
        pred.predict_store(wider, ["other", "IID01"])
    assert pred.predict_store(wider, ["iid01"])["symbol"].tolist() == ["IID01"]
    bars = {p.stem: pd.read_parquet(p) for p in sorted(extra.glob("*.parquet"))}
    with pytest.raises(InputError, match="outside this cross-sectional bundle"):
        pred.predict_bars(bars)


def test_cli_and_api_call_scores_scores(cs_run):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from tradeformer.api.app import create_app
    from tradeformer.cli import app

    summary, _, store, source = cs_run
    res = CliRunner().invoke(app, ["predict", "--bundle", summary["bundle"], "--data", str(store)])
    assert res.exit_code == 0, res.output
    assert "not returns" in res.output and "%" not in res.output.split("not returns")[1]
    client = TestClient(create_app(summary["bundle"], store), raise_server_exceptions=False)
    row = client.get("/v1/predict/iid02").json()
    assert row["symbol"] == "IID02" and row["score_kind"] == "cs_rank"
    assert "expected_return" not in row and -1 <= row["score"] <= 1
    schema = client.get("/openapi.json").json()
    assert "post" not in schema["paths"].get("/v1/predict", {})  # cannot succeed: not offered
    bars = pd.read_parquet(source / "IID01.parquet").tail(400)
    body = {
        "symbol": "IID01",
        "bars": json.loads(bars.to_json(orient="records", date_format="iso")),
    }
    res = client.post("/v1/predict", json=body)
    assert res.status_code == 422 and "cross-sectional" in res.json()["detail"]


def test_ensemble_weights_come_from_the_oof_rank_ics(cs_run):
    summary, _, _, _ = cs_run
    run = Path(summary["run_dir"])
    record = json.loads((run / "ensemble_weights.json").read_text())
    ics, weights = record["oof_rank_ic"], record["weights"]
    assert set(ics) == {"timeformer", "tft", "gbm"} and record["average"] == 0.0
    assert set(record["oof_rank_ic_nw_t"]) == set(ics)  # the t that oof_significant gates on
    assert sum(weights.values()) == pytest.approx(1.0)
    positive = {m: max(v, 0.0) for m, v in ics.items()}
    for m, w in weights.items():  # proportional to max(IC, 0) (equal when none is > 0)
        want = positive[m] / sum(positive.values()) if sum(positive.values()) else 1 / 3
        assert w == pytest.approx(want)
    manifest = json.loads((Path(summary["bundle"]) / "manifest.json").read_text())
    assert manifest["config"]["ensemble"]["weights"] == pytest.approx(weights)
    assert manifest["models"]["gbm"]["kind"] == "gbm"
    assert (Path(summary["bundle"]) / "gbm.s0.h0.lgb.txt").is_file()  # LightGBM text


def test_out_of_universe_evaluation_on_the_training_data_equals_the_test_predictions(
    cs_run, tmp_path
):
    from tradeformer.evaluation.out_of_universe import evaluate_bundle

    summary, _, _, source = cs_run
    cache = Path(summary["run_dir"]).parent.parent / "cache"
    res = evaluate_bundle(
        summary["bundle"],
        [source],
        start="2011-01-01",
        out_dir=tmp_path,
        cache_dir=cache,
        n_boot=50,
        progress=False,
    )
    got = pd.read_parquet(tmp_path / "test_predictions.parquet")
    expected = pd.read_parquet(Path(summary["run_dir"]) / "test_predictions.parquet")
    pd.testing.assert_frame_equal(got, expected)
    card = res["cross_section"]["by_horizon"]["5"]
    assert {"timeformer", "tft", "gbm", "ensemble", "xs_lgbm_full"} <= set(card)
    md = (tmp_path / "summary.md").read_text()
    assert "| LightGBM ranker |" in md and "| TimeFormer-XL |" in md
    assert "The ensemble minus the xs LightGBM, paired" in md
    assert set(res["cross_section"]["ensemble_vs_baselines"]["5"]) == {"xs_lgbm_full"}


def test_cli_evaluates_a_bundle_on_other_data(cs_run, tmp_path):
    from typer.testing import CliRunner

    from tradeformer.cli import app

    summary, _, _, source = cs_run
    run = CliRunner()
    args = ["evaluate", "--bundle", summary["bundle"], "--data", str(source)]
    res = run.invoke(app, [*args, "--start", "2012-01-01", "--symbols", "IID01,iid02,IID03"])
    assert res.exit_code == 0, res.output
    assert "Out-of-universe evaluation: 3 symbols" in res.output
    frame = pd.read_parquet(
        Path(summary["bundle"]).parent / "out_of_universe" / "test_predictions.parquet"
    )
    assert set(frame["symbol"]) == {"IID01", "IID02", "IID03"}
    assert frame["timestamp"].min() >= pd.Timestamp("2012-01-01")
    # each date's cross-section is the three names: the ensemble's ranks have mean 0 per date
    assert np.abs(frame.groupby("timestamp")["expected_return"].sum()).max() < 1e-6
    res = run.invoke(app, [*args[:3], "--start", "2012-01-01"])
    assert res.exit_code != 0 and "--data" in res.output
    res = run.invoke(app, [*args, "--start", "2012-01-01", "--heldout", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "without held-out names" in res.output
    res = run.invoke(app, [*args, "--start", "2012-01-01", "--symbols", "NOPE"])
    assert res.exit_code != 0 and "NOPE" in res.output
