"""Early stopping: keep the best epoch's weights; stop after `patience` epochs without a gain."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from torch import nn

from tradeformer.config import TrainingConfig


def score(val: dict, cfg: TrainingConfig) -> float:
    """Higher is better: minus the validation loss with fixed task weights (the Kendall
    weights of the training loss move as it trains, so its value is not comparable across
    epochs), or the mean per-date rank IC (`select_on: rank_ic`)."""
    if cfg.select_on == "rank_ic":
        v = val.get("rank_ic", float("nan"))
        return float(v) if np.isfinite(v) else -float("inf")
    return -val.get("fixed", val["loss"])


@dataclass
class EarlyStopping:
    best_score: float = -float("inf")
    bad: int = 0  # epochs since the best
    best: dict | None = None  # the best epoch's state dict
    done: bool = False

    def update(self, model: nn.Module, value: float, epoch: int, cfg: TrainingConfig) -> None:
        """After `epoch` (0-based) scored `value`: keep the weights if they are the best so far;
        done after `patience` epochs without a gain or at the last epoch."""
        if value > self.best_score + 1e-6 or self.best is None:
            self.best_score, self.bad = value, 0
            self.best = copy.deepcopy(model.state_dict())
        else:
            self.bad += 1
        self.done = self.bad >= cfg.patience or epoch + 1 == cfg.epochs
