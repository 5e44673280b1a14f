"""`tradeformer demo`: the README's main job, offline, on the bundled sample."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from tradeformer.cli.app import app
from tradeformer.cli.console import console
from tradeformer.cli.data import load
from tradeformer.cli.evaluate import evaluate_and_report
from tradeformer.cli.options import AblationOpt, SetOpt, ablation_list, parse_sets
from tradeformer.cli.output import print_evaluation, print_report, print_results, summary_table


def _validated(data: Path | None):
    from tradeformer.data.sample import sample_path

    what = "bundled sample (GSPC, IXIC, MSFT daily)" if data is None else str(data)
    console.rule(f"tradeformer demo: {what}")
    loaded = load(data or sample_path(), "reject", 120, False, "America/New_York")
    print_report(loaded.report)
    if len(loaded.bars) <= 10:
        console.print(summary_table(loaded, "validated bars"))
    else:
        console.print(f"validated {len(loaded.bars)} symbols")
    return loaded


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo writes its outputs.")] = Path(
        "demo_output"
    ),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Run on these bars instead of the bundled sample (a store, or a folder of "
            "CSV/Parquet files, e.g. ../shared/data/daily).",
        ),
    ] = None,
    sets: SetOpt = None,
    ablations: AblationOpt = "all",
    quick: Annotated[
        bool, typer.Option(help="Smoke run: 1 epoch on few samples (numbers meaningless).")
    ] = False,
) -> None:
    """The main job, offline: validate -> features -> local embeddings -> walk-forward
    TimeFormer-XL + TFT-XL -> veto -> ensemble -> backtest, baselines, ablations -> report."""
    from tradeformer.config import demo_config
    from tradeformer.stages.pipeline import run_training

    t0 = time.perf_counter()
    loaded = _validated(data)
    over = {"runs_dir": str(out / "runs"), "cache_dir": str(out / "cache")}
    if data is not None:
        over["data.source"] = str(data)
    over.update(parse_sets(sets))
    summary = run_training(demo_config(over, quick=quick))
    print_results(summary["metrics"])
    if len(loaded.bars) < 20:
        console.print(
            f"[yellow]note[/] {len(loaded.bars)} series are too few for the cross-sectional "
            "mode (ranks within a date need a universe): this demo trains the spec's raw mode. "
            "For the cross-sectional signal run `tradeformer train --config "
            "configs/daily100_cs.yaml` (see docs/training.md)."
        )
    ev, page = evaluate_and_report(Path(summary["run_dir"]), ablation_list(ablations), 5.0, 200)
    print_evaluation(ev)
    console.print(
        "Read accuracy against the majority rate and the CIs: on daily bars nothing here is "
        "expected to beat 'always up' by much (see docs/evaluation.md)."
    )
    console.print(
        f"[green]demo finished[/] in {(time.perf_counter() - t0) / 60:.1f} min: run "
        f"{summary['run_dir']}, bundle {summary['bundle']}, report {page}"
    )
