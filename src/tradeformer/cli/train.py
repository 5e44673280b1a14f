"""`tradeformer train`: a new run, a resumed one, or chosen stages of an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradeformer.cli.app import app
from tradeformer.cli.console import console
from tradeformer.cli.options import (
    SchedulerOpt,
    SetOpt,
    TrackOpt,
    load_experiment,
    with_scheduler,
    with_tracking,
)
from tradeformer.cli.output import print_results
from tradeformer.errors import InputError

StagesOpt = Annotated[
    str,
    typer.Option(
        help="all (data,deep,veto,bundle), or a comma list of data, deep, veto, bundle, "
        "evaluate, report; later stages alone need an existing run (--resume RUN_DIR)."
    ),
]


@app.command("train")
def train(
    config: Annotated[
        Path | None, typer.Option("--config", help="Experiment YAML (see configs/).")
    ] = None,
    stages: StagesOpt = "all",
    sets: SetOpt = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<name>-<time>).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue an interrupted run from its last epoch checkpoints, with the config "
            "it was started with (same results as an uninterrupted run), or run --stages on it.",
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
    track: TrackOpt = False,
) -> None:
    """Walk-forward training of every member, the veto and the bundle (see configs/)."""
    from tradeformer.stages import parse_stages
    from tradeformer.stages.pipeline import run_training

    chosen = parse_stages(stages)
    if chosen[0] != "data" and resume is None:
        raise InputError(f"--stages {stages} without data needs an existing run: --resume RUN_DIR")
    cfg, run_dir = train_target(config, sets, run_dir, resume)
    cfg = with_scheduler(cfg, scheduler)  # where stages run never changes what they compute
    cfg = with_tracking(cfg) if track else cfg
    summary = run_training(cfg, run_dir=run_dir, stages=chosen)
    if "metrics" not in summary:
        console.print(f"[green]stages {', '.join(chosen)} done[/] ({summary['run_dir']})")
        return
    print_results(summary["metrics"])
    console.print(
        f"[green]run[/] {summary['run_dir']} in {summary['seconds'] / 60:.1f} min; "
        f"bundle {summary['bundle']}"
    )


def train_target(config, sets, run_dir, resume):
    """The config and run directory of a new run, or of the run being resumed."""
    if resume is None:
        if config is None:
            raise InputError("give --config (a new run) or --resume RUN_DIR")
        if run_dir is not None and any(run_dir.glob("deep/*/*/checkpoint.pt")):
            raise InputError(f"{run_dir} holds a started run: continue it with --resume {run_dir}")
        return load_experiment(config, sets), run_dir
    if config is not None or sets or run_dir is not None:
        raise InputError("--resume takes the run's own config: no --config, --set or --run-dir")
    if not (resume / "config.yaml").is_file():
        raise InputError(f"{resume}: not a run directory (no config.yaml)")
    return load_experiment(resume / "config.yaml", None), resume
