"""Direction metrics next to their base rates (the honest yardstick on daily bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula; NaN with a single class."""
    y = label > 0.5
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(score).rank().to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def direction_metrics(prob_up: np.ndarray, direction: np.ndarray) -> dict[str, float]:
    """Accuracy of (prob > 0.5), the up-share base rate, and AUC."""
    y = direction > 0.5
    pred = prob_up > 0.5
    base = float(y.mean()) if len(y) else float("nan")
    acc = float((pred == y).mean()) if len(y) else float("nan")
    return {
        "n": len(y),
        "accuracy": acc,
        "base_rate_up": base,
        "accuracy_minus_majority": acc - max(base, 1 - base),
        "auc": auc(prob_up, direction),
    }


def rank_ic(pred: np.ndarray, actual: np.ndarray) -> float:
    if len(pred) < 3:
        return float("nan")
    return float(pd.Series(pred).rank().corr(pd.Series(actual).rank()))


def veto_metrics(keep: np.ndarray, ens_up: np.ndarray, direction: np.ndarray) -> dict[str, float]:
    """Coverage, accuracy of the kept calls, and the up-share of the kept rows (its base rate)."""
    y = direction > 0.5
    k = keep.astype(bool)
    out = {"coverage": float(k.mean()) if len(k) else float("nan"), "n_kept": int(k.sum())}
    if k.any():
        out["accuracy_kept"] = float((ens_up[k] == y[k]).mean())
        out["base_rate_up_kept"] = float(y[k].mean())
    return out
