"""Weighted ensemble of the two deep models, gated by the veto (spec: "Ensemble Architecture").

ensemble = w_tf * TimeFormer + w_tft * TFT + w_avg * (TimeFormer + TFT) / 2. With the spec's
0.35 / 0.30 / 0.35 this is 0.525 * TimeFormer + 0.475 * TFT (the "average" is not a third model).
A trade is taken only when the veto's probability that the ensemble's direction is right is at
least the threshold (0.65); otherwise HOLD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.config import EnsembleConfig
from tradeformer.dataset.cross_section import cs_rank


def ensemble_return(
    tf_ret: np.ndarray,
    tft_ret: np.ndarray,
    cfg: EnsembleConfig,
    codes: np.ndarray | None = None,
) -> np.ndarray:
    """The ensemble's score: weighted returns, or (ranks) weighted per-date ranks; `codes`
    (the rows' date codes) is required for ranks."""
    if cfg.combine == "ranks":
        if codes is None:
            raise ValueError("ensemble.combine = ranks needs the rows' dates")
        tf_ret, tft_ret = cs_rank(tf_ret, codes), cs_rank(tft_ret, codes)
    return cfg.timeformer * tf_ret + cfg.tft * tft_ret + cfg.average * (tf_ret + tft_ret) / 2


def effective_weights(cfg: EnsembleConfig) -> dict[str, float]:
    return {"timeformer": cfg.timeformer + cfg.average / 2, "tft": cfg.tft + cfg.average / 2}


def decide(
    tf_ret: np.ndarray,
    tft_ret: np.ndarray,
    veto_prob: np.ndarray,
    cfg: EnsembleConfig,
    threshold: float,
    codes: np.ndarray | None = None,
) -> pd.DataFrame:
    """The spec's output fields for each row (horizon = cfg.horizon)."""
    return pd.DataFrame(decision_columns(tf_ret, tft_ret, veto_prob, cfg, threshold, codes))


def decision_columns(
    tf_ret: np.ndarray,
    tft_ret: np.ndarray,
    veto_prob: np.ndarray,
    cfg: EnsembleConfig,
    threshold: float,
    codes: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """`decide` as named arrays (no frame: the serving path builds one frame at the end)."""
    ens = ensemble_return(tf_ret, tft_ret, cfg, codes)
    take = veto_prob >= threshold
    return {
        "action": np.where(take, np.where(ens > 0, "BUY", "SELL"), "HOLD"),
        "expected_return": ens,
        "confidence": np.where(take, veto_prob, 0.0),
        "timeformer_ret": tf_ret,
        "stockformer_ret": tf_ret,  # the spec's name for TimeFormer-XL
        "tft_ret": tft_ret,
        "veto_prob": veto_prob,
    }
