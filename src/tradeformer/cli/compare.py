"""`tradeformer compare`: runs side by side, differences with paired confidence intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tradeformer.cli.app import app
from tradeformer.cli.console import console

LABELS = {
    "date_rank_ic": "per-date rank IC",
    "accuracy": "accuracy",
    "long_short_bps": "top-bottom quintile (bps)",
    "majority_rate": "majority rate",
}


@app.command("compare")
def compare_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Two or more training run directories.")],
    horizon: Annotated[
        int | None, typer.Option(help="Label horizon in bars (default: the first run's).")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Also write the comparison as HTML.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
) -> None:
    """Configs as a diff and test scorecards side by side on the rows every run shares; each
    run against the first with a paired date-block bootstrap CI of the difference."""
    from tradeformer.evaluation.compare import compare_runs, to_html

    c = compare_runs(runs, horizon=horizon, n_boot=n_boot)
    s = c.shared
    console.print(
        f"shared test rows: {s['rows']:,} on {s['dates']:,} dates, {s['start']} .. {s['end']}, "
        f"horizon {s['horizon']} bars"
    )
    console.print(_config_table(c))
    console.print(_score_table(c))
    console.print(_difference_table(c))
    if html is not None:
        html.write_text(to_html(c))
        console.print(f"[green]wrote[/] {html}")


def _config_table(c) -> Table:
    t = Table(title="config keys that differ")
    t.add_column("key")
    for r in c.runs:
        t.add_column(r)
    for key, row in c.config_diff.iterrows():
        t.add_row(key, *(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    if c.config_diff.empty:
        t.add_row("(none)", *("" for _ in c.runs))
    return t


def _score_table(c) -> Table:
    t = Table(title="test scorecard on the shared rows")
    t.add_column("run")
    for m in c.scorecard.columns:
        t.add_column(LABELS.get(m, m), justify="right")
    for run, row in c.scorecard.iterrows():
        t.add_row(run, *(_fmt(m, v) for m, v in row.items()))
    return t


def _difference_table(c) -> Table:
    t = Table(title="difference vs the first run, 95% paired date-block bootstrap CI")
    for col in ("run", "metric", "difference", "95% CI", "CI excludes 0"):
        t.add_column(col, justify="right" if col != "run" else "left")
    for _, d in c.differences.iterrows():
        excl = d.ci_lo > 0 or d.ci_hi < 0
        t.add_row(
            d.run, LABELS.get(d.metric, d.metric), _fmt(d.metric, d.difference, sign=True),
            f"[{_fmt(d.metric, d.ci_lo, True)}, {_fmt(d.metric, d.ci_hi, True)}]",
            "[bold]yes[/]" if excl else "no",
        )  # fmt: skip
    return t


def _fmt(metric: str, v: float, sign: bool = False) -> str:
    if metric in ("accuracy", "majority_rate"):
        return f"{100 * v:+.2f}%" if sign else f"{100 * v:.2f}%"
    if metric == "long_short_bps":
        return f"{v:+.1f}"
    return f"{v:+.4f}"
