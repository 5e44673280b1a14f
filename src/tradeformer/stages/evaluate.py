"""Stage `evaluate`: every number the report shows, on the final test period ->
evaluation/ (`tradeformer.evaluation.evaluate_run`). Options: ablations, cost_bps, n_boot."""

from __future__ import annotations

from tradeformer.stages.context import RunContext


def run(ctx: RunContext) -> None:
    from tradeformer.evaluation import evaluate_run

    opts = ctx.options
    ctx.results["evaluation"] = evaluate_run(
        ctx.run_dir,
        ablations=tuple(opts.get("ablations", ())),
        cost_bps=float(opts.get("cost_bps", 5.0)),
        n_boot=int(opts.get("n_boot", 200)),
        data=ctx.data,
    )
