"""Run named stages in order over one run directory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tradeformer.errors import ConfigError
from tradeformer.execution.memory import trim_heap
from tradeformer.stages import bundle, data, deep, evaluate, report, veto
from tradeformer.stages.context import RunContext
from tradeformer.training.distributed import barrier, rank_and_world

log = logging.getLogger(__name__)
STAGES: dict[str, Callable[[RunContext], None]] = {
    "data": data.run,
    "deep": deep.run,
    "veto": veto.run,
    "bundle": bundle.run,
    "evaluate": evaluate.run,
    "report": report.run,
}
TRAINING_STAGES = ("data", "deep", "veto", "bundle")
ALL_RANKS = ("deep",)  # under torchrun every process trains; the other stages run on rank 0


def parse_stages(text: str) -> tuple[str, ...]:
    """`all` (the training stages), or a comma list such as `veto,bundle` (run in order)."""
    if text.strip() == "all":
        return TRAINING_STAGES
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in STAGES]
    if unknown or not names:
        raise ConfigError(
            f"unknown stage(s) {', '.join(unknown) or '(none)'}; "
            f"choose from all, {', '.join(STAGES)}"
        )
    return tuple(s for s in STAGES if s in names)


def run_stages(ctx: RunContext, stages: tuple[str, ...]) -> dict[str, float]:
    """Run `stages` in pipeline order; returns each stage's seconds. In a process group, a
    stage not in ALL_RANKS runs on rank 0 while the others wait for it."""
    rank, world = rank_and_world()
    seconds = {}
    for name in (s for s in STAGES if s in stages):
        t0 = time.perf_counter()
        log.info("stage %s", name)
        if world == 1 or name in ALL_RANKS or rank == 0:
            STAGES[name](ctx)
        barrier()
        trim_heap(collect=True)  # the stage's freed temporaries go back to the OS
        seconds[name] = time.perf_counter() - t0
        log.info("stage %s done in %.1f s", name, seconds[name])
    return seconds
