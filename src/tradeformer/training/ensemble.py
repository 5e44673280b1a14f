"""Weighted ensemble of the deep members, gated by the veto (spec: "Ensemble Architecture").

ensemble = sum_m w_m * member_m + w_avg * mean_m(member_m). With the spec's TimeFormer 0.35 /
TFT 0.30 / average 0.35 this is 0.525 * TimeFormer + 0.475 * TFT (the "average" is not a
third model). A trade is taken only when the veto's probability that the ensemble's direction
is right is at least the threshold (0.65); otherwise HOLD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.config import EnsembleConfig
from tradeformer.dataset.cross_section import cs_rank
from tradeformer.training.columns import SPEC_ALIASES, prediction_column


def member_outputs(preds: dict[str, dict], key: str, horizon_index: int) -> dict:
    """One output of every member at one horizon: {member: (n,) array}."""
    return {name: p[key][:, horizon_index] for name, p in preds.items()}


def ensemble_return(
    member_rets: dict[str, np.ndarray], cfg: EnsembleConfig, codes: np.ndarray | None = None
) -> np.ndarray:
    """The ensemble's score from each member's return forecast: weighted returns, or (ranks)
    weighted per-date ranks; `codes` (the rows' date codes) is required for ranks."""
    if set(member_rets) != set(cfg.weights):
        raise ValueError(f"members {sorted(member_rets)} != ensemble weights {sorted(cfg.weights)}")
    if cfg.combine == "ranks":
        if codes is None:
            raise ValueError("ensemble.combine = ranks needs the rows' dates")
        member_rets = {k: cs_rank(v, codes) for k, v in member_rets.items()}
    values = list(member_rets.values())
    weighted = sum(cfg.weights[k] * v for k, v in member_rets.items())
    return weighted + cfg.average * sum(values) / len(values)


def effective_weights(cfg: EnsembleConfig) -> dict[str, float]:
    """Each member's total weight (its own plus its share of the average)."""
    n = len(cfg.weights)
    return {k: w + cfg.average / n for k, w in cfg.weights.items()}


def ensemble_probability(member_probs: dict[str, np.ndarray], cfg: EnsembleConfig) -> np.ndarray:
    """P(up) of the ensemble: the members' probabilities at their effective weights."""
    w = effective_weights(cfg)
    return sum(w[k] * p for k, p in member_probs.items())


def decide(
    member_rets: dict[str, np.ndarray],
    veto_prob: np.ndarray,
    cfg: EnsembleConfig,
    threshold: float,
    codes: np.ndarray | None = None,
) -> pd.DataFrame:
    """The spec's output fields for each row (horizon = cfg.horizon)."""
    return pd.DataFrame(decision_columns(member_rets, veto_prob, cfg, threshold, codes))


def decision_columns(
    member_rets: dict[str, np.ndarray],
    veto_prob: np.ndarray,
    cfg: EnsembleConfig,
    threshold: float,
    codes: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """`decide` as named arrays (no frame: the serving path builds one frame at the end)."""
    ens = ensemble_return(member_rets, cfg, codes)
    take = veto_prob >= threshold
    out = {
        "action": np.where(take, np.where(ens > 0, "BUY", "SELL"), "HOLD"),
        "expected_return": ens,
        "confidence": np.where(take, veto_prob, 0.0),
    }
    for name, ret in member_rets.items():
        out[prediction_column(name, "ret")] = ret
        if name in SPEC_ALIASES:
            out[prediction_column(SPEC_ALIASES[name], "ret")] = ret
    out["veto_prob"] = veto_prob
    return out
