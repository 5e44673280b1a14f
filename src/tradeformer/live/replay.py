"""The live loop replayed over history: at each month end, signals as of that date (issued
twice: the rerun must write nothing), outcomes scored as of that date, and with a registry a
retrain every `retrain_every` months (promotion by the rule). What a cron job does daily."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tradeformer.inference.predictor import Predictor
from tradeformer.live import registry as reg
from tradeformer.live.ledger import Ledger
from tradeformer.live.retrain import Decision, retrain
from tradeformer.live.scoring import score_ledger
from tradeformer.live.signals import issue_signals

log = logging.getLogger(__name__)


@dataclass
class Replay:
    dates: list[pd.Timestamp] = field(default_factory=list)  # as-of bars signalled
    reruns_written: int = 0  # rows the second run of a date wrote (must be 0)
    decisions: list[Decision] = field(default_factory=list)
    seconds: float = 0.0


def replay(
    bundle: str | Path,
    store: str | Path,
    ledger: Ledger,
    month_ends: list[pd.Timestamp],
    *,
    retrain_every: int = 0,
    tolerance: float = 0.0,
    progress: bool = False,
) -> Replay:
    """Replay `month_ends` in order (a registry retrains every `retrain_every` months)."""
    t0 = time.perf_counter()
    out = Replay()
    cache: dict[Path, Predictor] = {}
    for k, until in enumerate(month_ends):
        path = reg.resolve_bundle(bundle)
        if path not in cache:
            cache[path] = Predictor.load(path)
        predictor = cache[path]
        first = issue_signals(predictor, path, store, ledger, until=until)
        again = issue_signals(predictor, path, store, ledger, until=until)
        out.dates.append(first.as_of)
        out.reruns_written += again.inserted
        score_ledger(ledger, store, until=until)
        log.info("%s: %d signals by %s", first.as_of.date(), first.inserted, path.name)
        if retrain_every and reg.is_registry(bundle) and (k + 1) % retrain_every == 0:
            out.decisions.append(
                retrain(bundle, store, until=until, tolerance=tolerance, progress=progress)
            )
    out.seconds = time.perf_counter() - t0
    return out
