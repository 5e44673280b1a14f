"""Stage `data`: store, calendar, features, embeddings, universe -> data.json, calendar.json.

The caches under `cache_dir` have one writer at a time: processes that share a cache (several
`tune` workers, two `train` runs) take turns through this stage (`cache_dir/.data-stage.lock`;
the second finds the first's caches and reads them)."""

from __future__ import annotations

from pathlib import Path

from tradeformer.dataset.prepare import prepare_data, save_prepared
from tradeformer.stages.context import RunContext
from tradeformer.stages.locks import exclusive_lock


def run(ctx: RunContext) -> None:
    with exclusive_lock(Path(ctx.cfg.cache_dir) / ".data-stage.lock"):
        ctx.data = prepare_data(ctx.cfg, progress=ctx.progress, label_hook=ctx.label_hook)
    save_prepared(ctx.data, ctx.run_dir)
