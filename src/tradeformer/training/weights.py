"""Ensemble weights chosen on out-of-fold predictions, from each member's per-date rank IC on
the validation rows of every fold (rows no member was trained on), at the ensemble's horizon.
The test period is never read.

- `oof_rank_ic`: weights proportional to each member's mean OOF rank IC (negative ICs weigh
  nothing; when no member is above 0 the members are weighed equally);
- `oof_significant`: the same, but a member whose daily OOF ICs have a Newey-West t under
  `min_t` weighs nothing (a member indistinguishable from noise adds only noise to a rank
  average); when no member clears it, the `oof_rank_ic` weights.
"""

from __future__ import annotations

import numpy as np

from tradeformer.config import EnsembleConfig
from tradeformer.stats.newey_west import newey_west_t
from tradeformer.stats.ranking import per_date_rank_ic


def oof_rank_ic_stats(
    folds: list[tuple[int, np.ndarray, dict]],
    target: np.ndarray,
    codes: np.ndarray,
    horizon_index: int,
    lags: int,
) -> dict[str, dict[str, float]]:
    """{member: {"ic": mean per-date rank IC of its OOF `ret` forecasts against `target`,
    "t": its Newey-West t over `lags` lags (the horizon: overlapping labels)}}."""
    rows = np.concatenate([r for _, r, _ in folds])
    out = {}
    for m in folds[0][2]:
        pred = np.concatenate([p[m]["ret"][:, horizon_index] for _, _, p in folds])
        daily = per_date_rank_ic(pred, target[rows, horizon_index], codes[rows]).dropna()
        ic = float(daily.mean()) if len(daily) else 0.0
        out[m] = {"ic": ic, "t": newey_west_t(daily.to_numpy(), lags)}
    return out


def ic_values(stats: dict[str, dict[str, float]]) -> dict[str, float]:
    """{member: its mean OOF rank IC} of `oof_rank_ic_stats`' answer."""
    return {m: s["ic"] for m, s in stats.items()}


def ic_weights(ics: dict[str, float]) -> dict[str, float]:
    """Weights proportional to max(IC, 0), summing to 1 (equal when none is positive)."""
    pos = {m: max(v, 0.0) for m, v in ics.items()}
    total = sum(pos.values())
    if total <= 0:
        return {m: 1.0 / len(ics) for m in ics}
    return {m: v / total for m, v in pos.items()}


def significant_weights(stats: dict[str, dict[str, float]], min_t: float) -> dict[str, float]:
    """IC weights over the members whose OOF t is at least `min_t` (a NaN t is not); the plain
    IC weights when none is."""
    kept = {m: s["ic"] if s["t"] >= min_t else 0.0 for m, s in stats.items()}
    if not any(v > 0 for v in kept.values()):
        return ic_weights(ic_values(stats))
    return ic_weights(kept)


def resolve_weights(cfg: EnsembleConfig, stats: dict[str, dict[str, float]]) -> EnsembleConfig:
    """The ensemble config with OOF-chosen weights (unchanged when `weighting` is fixed)."""
    if cfg.weighting == "fixed":
        return cfg
    if cfg.weighting == "oof_significant":
        weights = significant_weights(stats, cfg.min_t)
    else:
        weights = ic_weights(ic_values(stats))
    return cfg.model_copy(update={"weights": weights, "average": 0.0})
