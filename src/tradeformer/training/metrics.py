"""Direction metrics next to their base rates (the honest yardstick on daily bars), for the
training summary. AUC and rank IC come from `stats.ranking` (the evaluation uses the same): one
implementation of each."""

from __future__ import annotations

import numpy as np

from tradeformer.stats.ranking import rank_ic, roc_auc

__all__ = ["direction_metrics", "rank_ic", "veto_metrics"]


def direction_metrics(prob_up: np.ndarray, direction: np.ndarray) -> dict[str, float]:
    """Accuracy of (prob > 0.5), the up-share base rate, and AUC, over the labelled rows."""
    labelled = np.isfinite(direction)
    prob_up, direction = prob_up[labelled], direction[labelled]
    y = direction > 0.5
    pred = prob_up > 0.5
    base = float(y.mean()) if len(y) else float("nan")
    acc = float((pred == y).mean()) if len(y) else float("nan")
    return {
        "n": len(y),
        "accuracy": acc,
        "base_rate_up": base,
        "accuracy_minus_majority": acc - max(base, 1 - base),
        "auc": roc_auc(prob_up, y),
    }


def veto_metrics(keep: np.ndarray, ens_up: np.ndarray, direction: np.ndarray) -> dict[str, float]:
    """Coverage, accuracy of the kept calls, and the up-share of the kept rows (its base rate),
    over the labelled rows."""
    labelled = np.isfinite(direction)
    keep, ens_up, direction = keep[labelled], ens_up[labelled], direction[labelled]
    y = direction > 0.5
    k = keep.astype(bool)
    out = {"coverage": float(k.mean()) if len(k) else float("nan"), "n_kept": int(k.sum())}
    if k.any():
        out["accuracy_kept"] = float((ens_up[k] == y[k]).mean())
        out["base_rate_up_kept"] = float(y[k].mean())
    return out
