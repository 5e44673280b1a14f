"""Stage `report`: the HTML report with its figures from evaluation/ -> report/."""

from __future__ import annotations

from tradeformer.stages.context import RunContext


def run(ctx: RunContext) -> None:
    from tradeformer.evaluation.report import render_report

    ctx.results["report"] = render_report(ctx.run_dir)
