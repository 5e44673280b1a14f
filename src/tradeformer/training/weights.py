"""Ensemble weights chosen on out-of-fold predictions: each member's weight proportional to
its mean per-date rank IC on the validation rows of every fold (rows no member was trained
on), at the ensemble's horizon. Negative ICs weigh nothing; when no member is above 0 the
members are weighed equally. The test period is never read."""

from __future__ import annotations

import numpy as np

from tradeformer.config import EnsembleConfig
from tradeformer.stats.ranking import per_date_rank_ic


def oof_rank_ics(
    folds: list[tuple[int, np.ndarray, dict]],
    target: np.ndarray,
    codes: np.ndarray,
    horizon_index: int,
) -> dict[str, float]:
    """{member: mean per-date rank IC of its OOF `ret` forecasts against `target`}."""
    rows = np.concatenate([r for _, r, _ in folds])
    members = list(folds[0][2])
    out = {}
    for m in members:
        pred = np.concatenate([p[m]["ret"][:, horizon_index] for _, _, p in folds])
        ic = per_date_rank_ic(pred, target[rows, horizon_index], codes[rows]).mean()
        out[m] = float(ic) if np.isfinite(ic) else 0.0
    return out


def ic_weights(ics: dict[str, float]) -> dict[str, float]:
    """Weights proportional to max(IC, 0), summing to 1 (equal when none is positive)."""
    pos = {m: max(v, 0.0) for m, v in ics.items()}
    total = sum(pos.values())
    if total <= 0:
        return {m: 1.0 / len(ics) for m in ics}
    return {m: v / total for m, v in pos.items()}


def resolve_weights(cfg: EnsembleConfig, ics: dict[str, float]) -> EnsembleConfig:
    """The ensemble config with OOF-chosen weights (unchanged when `weighting` is fixed)."""
    if cfg.weighting == "fixed":
        return cfg
    return cfg.model_copy(update={"weights": ic_weights(ics), "average": 0.0})
