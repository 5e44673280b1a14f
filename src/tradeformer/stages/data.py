"""Stage `data`: store, calendar, features, embeddings, universe -> data.json, calendar.json."""

from __future__ import annotations

from tradeformer.dataset.prepare import prepare_data, save_prepared
from tradeformer.stages.context import RunContext


def run(ctx: RunContext) -> None:
    ctx.data = prepare_data(ctx.cfg, progress=ctx.progress, label_hook=ctx.label_hook)
    save_prepared(ctx.data, ctx.run_dir)
