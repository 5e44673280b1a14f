"""`tradeformer evaluate` and `tradeformer report`: the `evaluate` and `report` stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradeformer.cli.app import app
from tradeformer.cli.console import console
from tradeformer.cli.options import AblationOpt, CostOpt, RunDirArg, ablation_list
from tradeformer.cli.output import print_evaluation


def evaluate_and_report(
    run_dir: Path, ablations: tuple[str, ...], cost_bps: float, n_boot: int
) -> tuple[dict, Path]:
    """Run the `evaluate` and `report` stages on a finished run."""
    from tradeformer.evaluation.evaluate import load_run_config
    from tradeformer.stages import RunContext, run_stages

    options = {"ablations": ablations, "cost_bps": cost_bps, "n_boot": n_boot}
    ctx = RunContext(load_run_config(run_dir), run_dir, progress=False, options=options)
    run_stages(ctx, ("evaluate", "report"))
    return ctx.results["evaluation"], ctx.results["report"]


@app.command("evaluate")
def evaluate_cmd(
    run_dir: RunDirArg,
    ablations: AblationOpt = "none",
    cost_bps: CostOpt = 5.0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for CIs.")] = 200,
) -> None:
    """Test-period metrics with CIs, baselines, backtests, veto curve, calibration, ablations
    (retraining) and the HTML report -> RUN_DIR/evaluation/ and RUN_DIR/report/."""
    ev, page = evaluate_and_report(run_dir, ablation_list(ablations), cost_bps, n_boot)
    print_evaluation(ev)
    console.print(f"[green]report[/] {page}")


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
