"""Log a run directory to MLflow: one MLflow run per training run (its id kept in the run's
`tracking.json`, so `evaluate` adds to the same run), one per tuning trial."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tradeformer.config import ExperimentConfig
from tradeformer.errors import ConfigError
from tradeformer.tracking.records import (
    Point,
    epoch_histories,
    flat_params,
    run_params,
    run_tags,
    scorecard_points,
    summary_points,
)

RUN_FILE = "tracking.json"


def _mlflow():
    try:
        import mlflow
    except ModuleNotFoundError as e:
        raise ConfigError(f"tracking needs MLflow: pip install -e '.[track]' ({e})") from None
    return mlflow


def tracking_uri(cfg: ExperimentConfig) -> str:
    """The config's URI, or a SQLite store under the runs directory."""
    if cfg.tracking.uri:
        return cfg.tracking.uri
    db = Path(cfg.runs_dir).resolve() / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def client_and_experiment(cfg: ExperimentConfig, name: str | None = None):
    """An MLflow client on the config's store and the id of its experiment (created with
    artefacts next to a local store)."""
    mlflow = _mlflow()
    uri = tracking_uri(cfg)
    client = mlflow.MlflowClient(tracking_uri=uri)
    name = name or cfg.tracking.experiment or cfg.name
    found = client.get_experiment_by_name(name)
    if found is not None:
        return client, found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    try:
        return client, client.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:  # another process created it meanwhile
        return client, client.get_experiment_by_name(name).experiment_id


def log_points(client, run_id: str, points: list[Point]) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [Metric(p.key, p.value, now, p.step) for p in points]
    for i in range(0, len(metrics), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=metrics[i : i + 1000])


def log_params(client, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


def _run_for(cfg: ExperimentConfig, run_dir: Path):
    """The MLflow run of `run_dir`: the one recorded in its `tracking.json`, or a new one."""
    path = run_dir / RUN_FILE
    if path.exists():
        rec = json.loads(path.read_text())
        client = _mlflow().MlflowClient(tracking_uri=rec["uri"])
        return client, rec["run_id"], False
    client, experiment = client_and_experiment(cfg)
    run = client.create_run(experiment, run_name=run_dir.name, tags=run_tags(run_dir))
    rec = {"uri": tracking_uri(cfg), "experiment_id": experiment, "run_id": run.info.run_id}
    path.write_text(json.dumps(rec, indent=2))
    return client, run.info.run_id, True


def track_training(cfg: ExperimentConfig, run_dir: Path) -> str:
    """Log a finished (or partly run) training run; returns the MLflow run id."""
    client, run_id, new = _run_for(cfg, Path(run_dir))
    if new:
        log_params(client, run_id, run_params(run_dir))
    log_points(client, run_id, epoch_histories(run_dir) + summary_points(run_dir))
    for name in ("config.yaml", "summary.json", "data.json", "bundle/manifest.json"):
        if (run_dir / name).exists():
            client.log_artifact(run_id, str(run_dir / name), str(Path(name).parent).strip("."))
    client.set_terminated(run_id)
    return run_id


def track_evaluation(cfg: ExperimentConfig, run_dir: Path, evaluation: dict) -> str:
    """Add the scorecard, evaluation.json and the report folder to the run's MLflow run."""
    client, run_id, new = _run_for(cfg, Path(run_dir))
    if new:
        log_params(client, run_id, run_params(run_dir))
    log_points(client, run_id, scorecard_points(evaluation))
    client.log_artifact(run_id, str(run_dir / "evaluation" / "evaluation.json"), "evaluation")
    if (run_dir / "report").is_dir():
        client.log_artifacts(run_id, str(run_dir / "report"), "report")
    client.set_terminated(run_id)
    return run_id


def track_trial(cfg: ExperimentConfig, trial, run_dir: Path | None, study_name: str) -> str:
    """One Optuna trial as an MLflow run of experiment `tune/<study>`: its values and seed as
    params, objective, per-fold intermediate values and (when it ran) epoch histories."""
    client, experiment = client_and_experiment(cfg, name=f"tune/{study_name}")
    tags = {"optuna.study": study_name, "optuna.trial": str(trial.number),
            "optuna.state": trial.state.name, **(run_tags(run_dir) if run_dir else {})}  # fmt: skip
    run = client.create_run(experiment, run_name=f"trial_{trial.number:04d}", tags=tags)
    run_id = run.info.run_id
    params = {**flat_params(trial.params), "seed": str(trial.user_attrs.get("seed"))}
    log_params(client, run_id, params)
    points = [Point("objective/fold_value", float(v), int(k))
              for k, v in trial.intermediate_values.items()]  # fmt: skip
    if trial.value is not None:
        points.append(Point("objective/value", float(trial.value)))
    if run_dir is not None and (run_dir / "deep").is_dir():
        points += epoch_histories(run_dir)
    log_points(client, run_id, points)
    status = "FINISHED" if trial.state.name in ("COMPLETE", "PRUNED") else "FAILED"
    client.set_terminated(run_id, status=status)
    return run_id
