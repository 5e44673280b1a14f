"""An Optuna study over a config: each trial samples the space, varies the models' seed (the
local embedding's stays pinned to the study's base seed, so trials share it), runs the
`data` and `deep` stages on the validation folds only (`oof_only`) in its own run directory,
reports its out-of-fold score after every fold (the median pruner stops trials that trail),
and returns the objective. The study lives in SQLite by default: a killed search resumes where
it stopped (a trial that was running is marked failed by the heartbeat and rerun), and
several `tune` processes on one storage share the work until N trials have finished."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
import yaml

from tradeformer.config import ExperimentConfig, load_config
from tradeformer.dataset.prepare import LabelHook
from tradeformer.stages.locks import exclusive_lock
from tradeformer.stages.pipeline import run_training
from tradeformer.tuning.objective import objective_value, oof_scores, read_oof
from tradeformer.tuning.space import suggest

log = logging.getLogger(__name__)
# heartbeats and stale-trial retries are "experimental" in Optuna (since 2.x): used knowingly
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class TuneSpec:
    config: Path
    space: dict
    trials: int
    storage: str
    study_name: str
    out_dir: Path
    metric: str = "ensemble"
    overrides: dict | None = None
    heartbeat_s: int = 30  # a trial silent for grace_s is failed (killed) and retried once
    grace_s: int = 90


def make_config(
    spec: TuneSpec, params: dict, seed: int, embedding_seed: int | None = None
) -> ExperimentConfig:
    """The base config with the trial's values and seed (checked like `train --set`). The
    local embedding keeps `embedding_seed` (the study's base seed) unless the config or the
    space sets it: a trial varies the models' seed, not the features, so trials share one
    cached embedding instead of re-training the encoder each (minutes on a universe)."""
    values = {**(spec.overrides or {}), **params, "seed": seed}
    base = load_config(spec.config, values)
    if embedding_seed is None or base.embedding.seed is not None:
        return base
    return load_config(spec.config, {**values, "embedding.seed": embedding_seed})


def run_trial(
    cfg: ExperimentConfig,
    run_dir: Path,
    metric: str,
    on_fold=None,
    label_hook: LabelHook | None = None,
) -> tuple[float, dict]:
    """Train on the folds (no test period) and score the out-of-fold predictions."""
    options = {"oof_only": True, "on_fold": on_fold}
    run_training(
        cfg,
        run_dir=run_dir,
        stages=("data", "deep"),
        progress=False,
        label_hook=label_hook,
        options=options,
    )
    scores = oof_scores(read_oof(run_dir), cfg)
    return objective_value(scores, metric), scores


def objective(spec: TuneSpec):
    def fn(trial: optuna.Trial) -> float:
        params = suggest(trial, spec.space)
        base_seed = int(trial.study.user_attrs.get("base_seed", 0))
        seed = base_seed + trial.number
        cfg = make_config(spec, params, seed, embedding_seed=base_seed)
        trial.set_user_attr("seed", seed)
        t0 = time.perf_counter()

        def on_fold(k: int, oof: pd.DataFrame) -> None:
            partial = objective_value(oof_scores(oof, cfg), spec.metric)
            trial.report(partial, step=k)
            if trial.should_prune():
                raise optuna.TrialPruned(f"fold {k}: {partial:+.4f}")

        run_dir = spec.out_dir / f"trial_{trial.number:04d}"
        value, scores = run_trial(cfg, run_dir, spec.metric, on_fold)
        trial.set_user_attr("scores", scores)
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        return value

    return fn


def open_study(spec: TuneSpec, base_seed: int) -> optuna.Study:
    """The study in `spec.storage` (created, or loaded to resume / share)."""
    storage = spec.storage
    if storage.startswith("sqlite"):
        db = Path(storage.split("///", 1)[1])
        # two workers creating a fresh database at once race on its schema: one at a time
        with exclusive_lock(db.with_name(db.name + ".lock")):
            return _open(spec, base_seed, _rdb(storage, spec))
    return _open(spec, base_seed, storage)


def _rdb(url: str, spec: TuneSpec) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(
        url,
        heartbeat_interval=spec.heartbeat_s,
        grace_period=spec.grace_s,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(1),
    )


def _open(spec: TuneSpec, base_seed: int, storage) -> optuna.Study:
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        # unseeded: workers sharing a study must not draw the same values (each trial records
        # its values and seed; `best.yaml` reproduces the best one)
        sampler=optuna.samplers.TPESampler(),
    )
    if "base_seed" not in study.user_attrs:
        study.set_user_attr("base_seed", base_seed)
    if isinstance(storage, optuna.storages.RDBStorage):
        optuna.storages.fail_stale_trials(study)  # a killed worker's trial: failed, retried
    return study


def tune(spec: TuneSpec) -> optuna.Study:
    """Run trials until `spec.trials` have finished in the study (this process's share when
    several share it), then write the trials table and the best config."""
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    base = load_config(spec.config, spec.overrides)
    study = open_study(spec, base.seed)
    done = sum(t.state in FINISHED for t in study.trials)
    if done < spec.trials:
        callbacks = [optuna.study.MaxTrialsCallback(spec.trials, states=FINISHED)]
        if base.tracking.enabled:
            callbacks.append(tracking_callback(spec, base))
        study.optimize(objective(spec), n_trials=spec.trials - done, callbacks=callbacks, catch=())
    write_results(study, spec)
    return study


def tracking_callback(spec: TuneSpec, base: ExperimentConfig):
    """Each finished trial as an MLflow run (experiment `tune/<study>`)."""
    from tradeformer.tracking.mlflow_log import track_trial

    def log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        run_dir = spec.out_dir / f"trial_{trial.number:04d}"
        track_trial(base, trial, run_dir if run_dir.is_dir() else None, spec.study_name)

    return log_trial


def write_results(study: optuna.Study, spec: TuneSpec) -> None:
    """`trials.csv` (one row per trial) and, once a trial completed, `best.yaml`: the base
    config with the best trial's values (its seed too), loadable by `train --config`."""
    rows = []
    for t in study.trials:
        scores = t.user_attrs.get("scores", {})
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "seed": t.user_attrs.get("seed"),
                "seconds": t.user_attrs.get("seconds"),
                **{f"param:{k}": v for k, v in t.params.items()},
                **{f"oof_ic:{k}": v for k, v in scores.items()},
            }
        )
    pd.DataFrame(rows).to_csv(spec.out_dir / "trials.csv", index=False)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        return
    best = max(complete, key=lambda t: t.value)
    base_seed = int(study.user_attrs.get("base_seed", 0))
    cfg = make_config(spec, best.params, best.user_attrs["seed"], embedding_seed=base_seed)
    text = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    note = (
        f"# best of {len(complete)} trials of study {spec.study_name}: trial {best.number}, "
        f"OOF {spec.metric} rank IC {best.value:+.4f}\n"
    )
    (spec.out_dir / "best.yaml").write_text(note + text)
