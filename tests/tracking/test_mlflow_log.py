"""MLflow tracking, read back with MLflow's own client from a real local store: a tracked
tiny run (params, per-epoch histories per member and fold, stage seconds, scorecard with CIs,
artefacts, tags), `evaluate` adding to the same run, a tuning trial as a run, and nothing
imported or written when tracking is off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import iid_bars, tiny_config
from tradeformer.errors import ConfigError
from tradeformer.tracking.records import flat_params

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    from tradeformer.cli.evaluate import evaluate_and_report
    from tradeformer.stages.pipeline import run_training

    tmp = tmp_path_factory.mktemp("tracked")
    source = iid_bars(tmp / "bars", n_symbols=6, seed=3, start="2008-01-02")  # a cross-section
    uri = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    (tmp / "store").mkdir()
    cfg = tiny_config(source, tmp, tracking={"enabled": True, "uri": uri})
    summary = run_training(cfg, run_dir=tmp / "run", progress=False)
    evaluate_and_report(tmp / "run", (), 5.0, 20)
    return cfg, tmp / "run", uri, summary


def _run(uri, run_dir):
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_id = json.loads((run_dir / "tracking.json").read_text())["run_id"]
    return client, client.get_run(run_id)


def test_training_run_is_logged_with_params_histories_and_tags(tracked):
    cfg, run_dir, uri, summary = tracked
    client, run = _run(uri, run_dir)
    runs = client.search_runs([run.info.experiment_id])
    assert [r.info.run_id for r in runs] == [run.info.run_id]  # evaluate reused the run
    assert client.get_experiment(run.info.experiment_id).name == cfg.name
    params = run.data.params
    assert params["training.epochs"] == str(cfg.training.epochs)
    assert params["models.timeformer.overrides.d_model"] == "16"
    assert params["calendar.test_start"] == "2015-01-01"
    tags = run.data.tags
    assert (
        tags["data_fingerprint"]
        == json.loads((run_dir / "data.json").read_text())["data_fingerprint"]
    )
    assert tags["git_revision"]
    for member in ("timeformer", "tft"):
        for fold in (0, 1):
            history = client.get_metric_history(run.info.run_id, f"{member}/fold{fold}/val_loss")
            epochs = json.loads((run_dir / f"deep/fold{fold}/{member}/metrics.json").read_text())
            assert [m.step for m in history] == [e["epoch"] for e in epochs]
            assert [m.value for m in history] == pytest.approx([e["val_loss"] for e in epochs])
    metrics = run.data.metrics
    assert metrics["seconds/deep"] == pytest.approx(summary["stage_seconds"]["deep"])
    oof = summary["metrics"]["oof"]["timeformer"]["h3"]["rank_ic"]
    assert metrics["oof/timeformer/h3/rank_ic"] == pytest.approx(oof)


def test_scorecard_and_artifacts_are_logged(tracked):
    _, run_dir, uri, _ = tracked
    client, run = _run(uri, run_dir)
    ev = json.loads((run_dir / "evaluation/evaluation.json").read_text())
    card = ev["cross_section"]["by_horizon"]["3"]["ensemble"]
    m = run.data.metrics
    assert m["test/h3/ensemble/date_rank_ic"] == pytest.approx(card["date_rank_ic"])
    assert m["test/h3/ensemble/date_rank_ic_ci_low"] == pytest.approx(card["date_rank_ic_ci"][0])
    fc = ev["forecasts"]["3"]["timeformer"]
    assert m["test/h3/timeformer/accuracy"] == pytest.approx(fc["accuracy"])
    assert m["test/h3/timeformer/majority_rate"] == pytest.approx(fc["majority_rate"])
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "summary.json", "bundle", "report", "evaluation"} <= top
    report = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert "report/index.html" in report
    local = client.download_artifacts(run.info.run_id, "bundle/manifest.json", str(run_dir.parent))
    manifest = (run_dir / "bundle/manifest.json").read_text()
    assert json.loads(Path(local).read_text()) == json.loads(manifest)


def test_a_tuning_trial_is_a_run(tracked, tmp_path):
    from tradeformer.tracking.mlflow_log import track_trial

    cfg = tracked[0].model_copy()
    trial = optuna.trial.create_trial(
        params={"training.max_lr": 1e-3},
        distributions={"training.max_lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)},
        value=0.021,
        intermediate_values={0: 0.01, 1: 0.02},
        user_attrs={"seed": 9},
    )
    run_id = track_trial(cfg, trial, tracked[1], "study1")
    client = mlflow.MlflowClient(tracking_uri=tracked[2])
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "tune/study1"
    assert run.data.params == {"training.max_lr": "0.001", "seed": "9"}
    assert run.data.metrics["objective/value"] == pytest.approx(0.021)
    folds = client.get_metric_history(run_id, "objective/fold_value")
    assert [(m.step, m.value) for m in folds] == [(0, 0.01), (1, 0.02)]
    assert run.info.status == "FINISHED"


def test_flat_params_keep_every_leaf():
    flat = flat_params({"a": {"b": 1, "c": [1, 2], "d": {}}, "e": "x", "f": None})
    assert flat == {"a.b": "1", "a.c": "[1, 2]", "a.d": "{}", "e": "x", "f": "null"}


def test_tracking_off_imports_nothing_and_missing_mlflow_says_how(tmp_path, monkeypatch):
    code = (
        "import sys, tradeformer.cli, tradeformer.stages.pipeline, tradeformer.tuning.space;"
        "assert 'mlflow' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from tradeformer.config import ExperimentConfig
    from tradeformer.tracking.mlflow_log import track_training, tracking_uri

    monkeypatch.setitem(sys.modules, "mlflow", None)
    cfg = ExperimentConfig(name="x", calendar={"test_start": "2020-01-01"},
                           runs_dir=str(tmp_path), tracking={"enabled": True})  # fmt: skip
    assert tracking_uri(cfg) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    with pytest.raises(ConfigError, match=r"\[track\]"):
        track_training(cfg, tmp_path)
