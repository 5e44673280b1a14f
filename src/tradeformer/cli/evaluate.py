"""`tradeformer evaluate` and `tradeformer report`: the `evaluate` and `report` stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradeformer.cli.app import app
from tradeformer.cli.console import console
from tradeformer.cli.options import (
    AblationOpt,
    CostOpt,
    PolicyOpt,
    RunDirArg,
    TrackOpt,
    ablation_list,
    check_policy,
    with_tracking,
)
from tradeformer.cli.output import print_evaluation
from tradeformer.errors import InputError


def evaluate_and_report(
    run_dir: Path, ablations: tuple[str, ...], cost_bps: float, n_boot: int, track: bool = False
) -> tuple[dict, Path]:
    """Run the `evaluate` and `report` stages on a finished run (and track them in MLflow
    with `track` or the run's `tracking.enabled`)."""
    from tradeformer.evaluation.evaluate import load_run_config
    from tradeformer.stages import RunContext, run_stages
    from tradeformer.stages.pipeline import track_stages

    options = {"ablations": ablations, "cost_bps": cost_bps, "n_boot": n_boot}
    cfg = load_run_config(run_dir)
    cfg = with_tracking(cfg) if track else cfg
    ctx = RunContext(cfg, run_dir, progress=False, options=options)
    stages = ("evaluate", "report")
    run_stages(ctx, stages)
    track_stages(ctx, stages)
    return ctx.results["evaluation"], ctx.results["report"]


@app.command("evaluate")
def evaluate_cmd(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="A training run directory (runs/<id>); or give --bundle and --data."),
    ] = None,
    ablations: AblationOpt = "none",
    cost_bps: CostOpt = 5.0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for CIs.")] = 200,
    bundle: Annotated[
        Path | None,
        typer.Option(help="Score this bundle on other data (--data) instead of a run's test."),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="With --bundle: a store or folder(s)/file(s) of bars."),
    ] = None,
    start: Annotated[str | None, typer.Option(help="With --bundle: first date scored.")] = None,
    end: Annotated[str | None, typer.Option(help="With --bundle: last date scored.")] = None,
    symbols: Annotated[
        str | None, typer.Option(help="With --bundle: comma list of symbols (default: all).")
    ] = None,
    heldout: Annotated[
        bool, typer.Option("--heldout", help="With --bundle: the names it held out of training.")
    ] = False,
    policy: PolicyOpt = "reject",
    track: TrackOpt = False,
    out: Annotated[
        Path | None, typer.Option(help="With --bundle: output folder (default: next to it).")
    ] = None,
) -> None:
    """Test-period metrics with CIs, baselines, backtests, veto curve, calibration, ablations
    (retraining) and the HTML report -> RUN_DIR/evaluation/ and RUN_DIR/report/. With
    --bundle B --data OTHER --start DATE: the bundle applied unchanged to OTHER's symbols
    (each date's cross-section = OTHER's symbols that date) -> test_predictions.parquet,
    evaluation.json and summary.md in --out."""
    if bundle is not None:
        out_of_universe(bundle, data, start, end, symbols, heldout, policy, out, cost_bps, n_boot)
        return
    if run_dir is None:
        raise InputError("give a run directory, or --bundle B --data OTHER --start DATE")
    if data or start or end or symbols or heldout or out:
        raise InputError("--data, --start, --end, --symbols, --heldout and --out need --bundle")
    ev, page = evaluate_and_report(run_dir, ablation_list(ablations), cost_bps, n_boot, track)
    print_evaluation(ev)
    console.print(f"[green]report[/] {page}")


def out_of_universe(bundle, data, start, end, symbols, heldout, policy, out, cost_bps, n_boot):
    """`evaluate --bundle`: the scorecard of a bundle on other data."""
    from tradeformer.evaluation.out_of_universe import evaluate_bundle

    if not data or not start:
        raise InputError("--bundle needs --data OTHER and --start DATE")
    if symbols and heldout:
        raise InputError("give --symbols or --heldout, not both")
    check_policy(policy)
    names = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
    result = evaluate_bundle(
        bundle,
        data,
        start=start,
        end=end,
        symbols=names,
        heldout=heldout,
        out_dir=out,
        policy=policy,
        cost_bps=cost_bps,
        n_boot=n_boot,
    )
    folder = out or Path(bundle).parent / "out_of_universe"
    console.print((folder / "summary.md").read_text())
    console.print(
        f"[green]scored[/] {result['n_symbols']} symbols, {result['n_rows']:,} rows -> {folder}"
    )


@app.command("report")
def report_cmd(
    run_dir: RunDirArg,
    ablations: AblationOpt = "none",
    cost_bps: CostOpt = 5.0,
) -> None:
    """Render RUN_DIR/report/index.html (+ summary.md, PNGs); evaluates first if needed."""
    from tradeformer.evaluation.report import render_report

    evaluation = run_dir / "evaluation" / "evaluation.json"
    if evaluation.exists() and ablations == "none":
        page = render_report(run_dir)
        ev = json.loads(evaluation.read_text())
    else:
        ev, page = evaluate_and_report(run_dir, ablation_list(ablations), cost_bps, 200)
    print_evaluation(ev)
    console.print(f"[green]report[/] {page}  (summary: {page.parent / 'summary.md'})")
