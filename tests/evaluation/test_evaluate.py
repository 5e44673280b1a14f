"""evaluate_run + render_report + CLI on a tiny real run: numbers consistent with the test
predictions, baselines on the same rows, ablations retrained, report files, clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import tiny_config
from tradeformer.cli import app
from tradeformer.dataset.prepare import prepare_data
from tradeformer.evaluation import evaluate_run
from tradeformer.evaluation.ablations import ablated_universe
from tradeformer.evaluation.report import render_report
from tradeformer.features.columns import CLASSICAL_COLUMNS, MTF_COLUMNS
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="module")
def evaluated(tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    summary = run_training(tiny_config(tiny_source, tmp), progress=False)
    run = Path(summary["run_dir"])
    ev = evaluate_run(run, ablations=("no_mtf",), n_boot=50)
    return run, ev, render_report(run)


def test_metrics_agree_with_the_test_predictions(evaluated):
    run, ev, _ = evaluated
    frame = pd.read_parquet(run / "test_predictions.parquet")
    h = ev["horizon"]
    lab = frame[f"ret_{h}"].notna()
    f = frame[lab]
    up = f[f"ret_{h}"] > 0
    m = ev["forecasts"][str(h)]
    assert m["ensemble"]["accuracy"] == pytest.approx(((f[f"ensemble_ret_{h}"] > 0) == up).mean())
    assert m["always_up"]["accuracy"] == pytest.approx(up.mean())
    assert m["ensemble"]["majority_rate"] == pytest.approx(max(up.mean(), 1 - up.mean()))
    for name in ("timeformer", "tft", "ensemble", "random", "sma_crossover", "classical_lgbm"):
        assert m[name]["n"] == lab.sum()  # every forecast is scored on the same rows
        lo, hi = m[name]["accuracy_ci"]
        assert lo <= m[name]["accuracy"] <= hi
    kept = lab & (frame["veto_prob"] >= ev["veto"]["threshold"])
    assert ev["veto"]["n_kept"] == kept.sum()


def test_backtests_and_their_artifacts(evaluated):
    run, ev, _ = evaluated
    bt = ev["backtests"]
    assert set(bt["long_short"]) >= {"ensemble+veto", "ensemble", "classical_lgbm", "random"}
    assert "buy_and_hold" in bt["long_only"]
    system = bt["long_short"]["ensemble+veto"]
    assert system["coverage"] == pytest.approx(ev["veto"]["coverage"], abs=0.02)
    eq = pd.read_parquet(run / "evaluation" / "equity.parquet")
    bh = eq[eq["strategy"] == "buy_and_hold"]
    assert bh["equity"].iloc[-1] - 1 == pytest.approx(
        bt["long_only"]["buy_and_hold"]["total_return"]
    )


def test_ablation_retrains_without_the_group(evaluated, tiny_source, tmp_path):
    _, ev, _ = evaluated
    variants = [r["variant"] for r in ev["ablations"]]
    assert variants == ["full", "timeformer_only", "tft_only", "no_mtf"]
    full, no_mtf = ev["ablations"][0], ev["ablations"][-1]
    assert full["delta_accuracy"] == 0.0
    assert no_mtf["accuracy"] - full["accuracy"] == pytest.approx(no_mtf["delta_accuracy"])
    cfg = tiny_config(tiny_source, tmp_path)
    u = prepare_data(cfg, progress=False).universe
    ua = ablated_universe(u, "no_mtf")
    cols = [CLASSICAL_COLUMNS.index(c) for c in MTF_COLUMNS]
    assert (ua.context[:, cols] == 0).all()
    assert not (u.context[:, cols] == 0).all()  # the original is untouched
    others = [i for i in range(len(CLASSICAL_COLUMNS)) if i not in cols]
    np.testing.assert_array_equal(ua.context[:, others], u.context[:, others])
    assert ablated_universe(u, "no_embedding").embedding.shape == (len(u.timestamps), 0)
    with pytest.raises(ValueError, match="unknown ablation"):
        ablated_universe(u, "no_everything")


def test_report_is_self_contained_and_matches_the_numbers(evaluated):
    run, ev, page = evaluated
    html = page.read_text()
    pngs = sorted((run / "report").glob("*.png"))
    assert len(pngs) >= 9
    assert html.count("data:image/png;base64,") == len(pngs)
    md = (run / "report" / "summary.md").read_text()
    assert "| Metric | Spec expects |" in md
    acc = ev["forecasts"][str(ev["horizon"])]["ensemble"]["accuracy"]
    assert f"{100 * acc:.1f}%" in md
    assert "survivorship" in md.lower()


def test_cli_report_and_errors(evaluated, tmp_path):
    run, _, _ = evaluated
    r = CliRunner().invoke(app, ["report", str(run)])
    assert r.exit_code == 0, r.output
    assert "spec vs measured" in r.output
    r = CliRunner().invoke(app, ["evaluate", str(tmp_path)])
    assert r.exit_code == 4  # NotFoundError
    assert "no config.yaml" in re.sub(r"\s+", " ", r.output)
    r = CliRunner().invoke(app, ["evaluate", str(run), "--ablations", "no_magic"])
    assert r.exit_code == 2
    assert "unknown ablation" in r.output


def test_evaluation_json_is_plain_json(evaluated):
    run, _, _ = evaluated
    data = json.loads((run / "evaluation" / "evaluation.json").read_text())
    assert data["conventions"]["sharpe"].startswith("daily net returns")


def test_retraining_path_reproduces_the_full_runs_models(evaluated, tiny_source):
    """The ablation retrain is apples to apples: with nothing removed, it gives the run's own
    test predictions bit for bit (same fold, seed, data and budget)."""
    from tradeformer.evaluation.evaluate import load_run_config
    from tradeformer.stages.deep import fit_fold_models
    from tradeformer.training.prediction import predict

    run, _, _ = evaluated
    cfg = load_run_config(run)
    data = prepare_data(cfg, progress=False)
    u, cal = data.universe, data.calendar
    models, scaler, _ = fit_fold_models(
        cfg, u, cal.folds[-1], out_dir=run / "scratch", progress=False
    )
    rows = u.rows_between(cal.test_start, cal.test_end, labeled=False)
    frame = pd.read_parquet(run / "test_predictions.parquet")
    h = cfg.ensemble.horizon
    j = data.horizons.index(h)
    for name in ("timeformer", "tft"):
        p = predict(models[name][1], u, rows, cfg.training.lookback, scaler)
        np.testing.assert_array_equal(p["ret"][:, j], frame[f"{name}_ret_{h}"].to_numpy())
