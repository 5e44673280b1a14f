"""`tradeformer tune`: an Optuna search over a config on the validation folds only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tradeformer.cli.app import app
from tradeformer.cli.console import console
from tradeformer.cli.options import ConfigOpt, SetOpt, TrackOpt, parse_sets


@app.command("tune")
def tune_cmd(
    config: ConfigOpt,
    space: Annotated[Path, typer.Option(help="Search space YAML (config key -> distribution).")],
    trials: Annotated[int, typer.Option(min=1, help="Finished trials the study should hold.")] = 20,
    storage: Annotated[
        str, typer.Option(help="Optuna storage URL (SQLite: resumable, shared by workers).")
    ] = "sqlite:///runs/tune.db",
    study: Annotated[
        str | None, typer.Option(help="Study name (default: the config's name).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Trial runs and results (runs/tune/<study>).")
    ] = None,
    metric: Annotated[
        str, typer.Option(help="ensemble, or member:NAME (its OOF per-date rank IC).")
    ] = "ensemble",
    heartbeat: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds between a trial's heartbeats; a trial silent for 3x "
            "this (its worker was killed) is marked failed and retried once.",
        ),
    ] = 30,
    baseline: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also run the base config, unmodified, at this many seeds (the first "
            "trials' seeds, the same embedding): OUT/baseline.csv, the bar a trial must clear.",
        ),
    ] = 0,
    sets: SetOpt = None,
    track: TrackOpt = False,
) -> None:
    """Search SPACE for the config with the best out-of-fold per-date rank IC at its horizon:
    trials train on the walk-forward folds only (the test period is never read), report after
    each fold (trailing trials are pruned), vary the seed; the best config goes to
    OUT/best.yaml and every trial to OUT/trials.csv. Rerun the same command to resume; start it
    in several shells to share one study (give --baseline to one of them only)."""
    from tradeformer.config import load_config
    from tradeformer.errors import ConfigError
    from tradeformer.tuning.space import load_space

    try:
        from tradeformer.tuning.study import TuneSpec, tune
    except ModuleNotFoundError as e:
        raise ConfigError(f"tune needs Optuna: pip install -e '.[tune]' ({e})") from None

    overrides = parse_sets(sets) | ({"tracking.enabled": True} if track else {})
    name = study or load_config(config, overrides).name
    spec = TuneSpec(
        config=config,
        space=load_space(space),
        trials=trials,
        storage=storage,
        study_name=name,
        out_dir=out or Path("runs") / "tune" / name,
        metric=metric,
        overrides=overrides,
        heartbeat_s=heartbeat,
        grace_s=3 * heartbeat,
    )
    result = tune(spec)
    console.print(_trials_table(result))
    if baseline:
        from tradeformer.tuning.baseline import baseline_line, run_baseline

        base_seed = int(result.user_attrs.get("base_seed", 0))
        console.print(baseline_line(run_baseline(spec, baseline, base_seed)))
    if (spec.out_dir / "best.yaml").exists():
        console.print(
            f"[green]best config[/] {spec.out_dir / 'best.yaml'}; measure it once with "
            f"`tradeformer train --config {spec.out_dir / 'best.yaml'}`"
        )


def _trials_table(study) -> Table:
    t = Table(title=f"study {study.study_name}: {len(study.trials)} trials")
    for col in ("trial", "state", "OOF rank IC", "params"):
        t.add_column(col)
    for tr in sorted(study.trials, key=lambda x: -(x.value if x.value is not None else -9)):
        value = f"{tr.value:+.4f}" if tr.value is not None else "-"
        params = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in tr.params.items()
        )
        t.add_row(str(tr.number), tr.state.name.lower(), value, params)
    return t
