"""`tradeformer train`: the training stages (`data`, `deep`, `veto`, `bundle`; see
`tradeformer.stages`) over a run directory `runs/<name>-<time>/`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import yaml

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.prepare import LabelHook
from tradeformer.errors import ConfigError
from tradeformer.models.registry import model_spec
from tradeformer.stages import TRAINING_STAGES, RunContext, run_stages
from tradeformer.training.distributed import barrier, broadcast, init_from_env


def check_members(cfg: ExperimentConfig) -> None:
    """Every member names a registered kind and one of its presets (before any work)."""
    for name, choice in cfg.models.items():
        try:
            spec = model_spec(cfg.member_kind(name))
        except ValueError as e:
            raise ConfigError(f"models.{name}: {e}") from None
        if choice.preset not in spec.presets:
            raise ConfigError(
                f"models.{name}.preset {choice.preset!r}: {spec.kind} has {', '.join(spec.presets)}"
            )


def new_run_dir(cfg: ExperimentConfig) -> Path:
    return Path(cfg.runs_dir) / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_training(
    cfg: ExperimentConfig,
    *,
    run_dir: Path | None = None,
    stages: tuple[str, ...] = TRAINING_STAGES,
    label_hook: LabelHook | None = None,
    progress: bool = True,
    options: dict | None = None,
) -> dict:
    """Run the selected stages; returns the run's summary (paths, metrics, seconds).
    `options`: stage options (`oof_only`, `on_fold` for tuning; see `stages/deep.py`)."""
    t_start = time.perf_counter()
    check_members(cfg)
    rank, _ = init_from_env()  # under torchrun: join the process group
    run_dir = broadcast(Path(run_dir) if run_dir is not None else new_run_dir(cfg))
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)  # members in order
        (run_dir / "config.yaml").write_text(config)
    barrier()
    if cfg.training.num_threads:  # CPU float reductions depend on the thread count: fix it
        torch.set_num_threads(cfg.training.num_threads)
    ctx = RunContext(cfg, run_dir, progress=progress, label_hook=label_hook, options=options or {})
    seconds = run_stages(ctx, stages)
    path = run_dir / "summary.json"
    if rank != 0 or "bundle" not in stages:
        if rank == 0 and not ctx.options.get("oof_only"):  # tune tracks its trials itself
            track_stages(ctx, stages)
        return {"run_dir": str(run_dir), "stage_seconds": seconds}
    summary = json.loads(path.read_text())
    summary["seconds"] = time.perf_counter() - t_start
    summary["stage_seconds"] = seconds
    fits = run_dir / "deep" / "fits.json"
    if fits.exists():  # per member and fold: seconds, samples/s, input wait, peak memory
        summary["fits"] = json.loads(fits.read_text())
    path.write_text(json.dumps(summary, indent=2, default=float))
    track_stages(ctx, stages)
    return summary


def track_stages(ctx: RunContext, stages: tuple[str, ...]) -> None:
    """With `tracking.enabled`: log what the stages wrote to the run's MLflow run."""
    if not ctx.cfg.tracking.enabled:
        return
    from tradeformer.tracking.mlflow_log import track_evaluation, track_training

    first = not (ctx.run_dir / "tracking.json").exists()  # a run tracked late: its training too
    if set(stages) & {"deep", "veto", "bundle"} or (first and "evaluation" in ctx.results):
        track_training(ctx.cfg, ctx.run_dir)
    if "evaluation" in ctx.results:
        track_evaluation(ctx.cfg, ctx.run_dir, ctx.results["evaluation"])
