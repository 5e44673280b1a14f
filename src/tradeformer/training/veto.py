"""The LightGBM veto: will the ensemble's direction be right? Trained on out-of-fold rows only.

Features (the spec's 551 for the two default members): the 541 inputs at t (29 classical +
512 embedding), every member's return forecasts at 3/5/10 bars, and per-sample diagnostics
at the ensemble horizon: each member's predicted std, then what each member's class lists in
`veto_diagnostics` (TFT's P90 - P10, TimeFormer's attention entropy). Label: sign(ensemble
return) == direction of the realised return. Early stopping on the latest fold's OOF rows,
training on the earlier folds'.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from tradeformer.config import EnsembleConfig, VetoConfig
from tradeformer.features.columns import CLASSICAL_COLUMNS
from tradeformer.training.columns import prediction_column
from tradeformer.training.ensemble import ensemble_return, member_outputs

# the per-sample diagnostics the veto may read, in feature order: `uncertainty` of every
# member, then each member-specific one (`veto_diagnostics` of the member's class) in this order
DIAGNOSTICS = ("uncertainty", "q_range", "attn_entropy")


def veto_inputs(members: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(member, diagnostic) pairs the veto reads, given each member's `veto_diagnostics`."""
    unknown = {d for ds in members.values() for d in ds} - set(DIAGNOSTICS)
    if unknown:
        raise ValueError(f"unknown veto diagnostics {sorted(unknown)}; known: {DIAGNOSTICS}")
    return [
        (m, d)
        for d in DIAGNOSTICS
        for m, extra in members.items()
        if d == "uncertainty" or d in extra
    ]


def veto_feature_names(
    horizons: tuple[int, ...],
    emb_dim: int,
    members: dict[str, tuple[str, ...]],
    context_names: tuple[str, ...] = CLASSICAL_COLUMNS,
) -> list[str]:
    """Column names of `veto_features`: inputs, every member's returns, its diagnostics."""
    preds = [prediction_column(m, "ret", h) for m in members for h in horizons]
    diags = [prediction_column(m, d) for m, d in veto_inputs(members)]
    return [*context_names, *(f"emb_{i:03d}" for i in range(emb_dim)), *preds, *diags]


def veto_features(
    context: np.ndarray,
    embedding: np.ndarray,
    preds: dict[str, dict],
    members: dict[str, tuple[str, ...]],
    horizon_index: int,
) -> np.ndarray:
    """(n, 29 + E + M*H + diagnostics) float32: the rows' inputs and the members' outputs
    (diagnostics with a horizon axis are read at the ensemble horizon)."""
    diags = []
    for m, d in veto_inputs(members):
        v = preds[m][d]
        diags.append(v[:, horizon_index] if v.ndim == 2 else v)
    blocks = [context, embedding, *(preds[m]["ret"] for m in members), np.stack(diags, axis=1)]
    out = np.empty((len(context), sum(b.shape[1] for b in blocks)), dtype="float32")
    a = 0
    for b in blocks:  # written in place: no concatenated temporary, no second float32 copy
        out[:, a : a + b.shape[1]] = b
        a += b.shape[1]
    return out


def veto_labels(
    preds: dict[str, dict],
    direction: np.ndarray,
    horizon_index: int,
    cfg: EnsembleConfig,
    codes: np.ndarray | None = None,
) -> np.ndarray:
    """1 where the ensemble's side (score > 0) matches the target direction (up, or above
    the date's median for cross-sectional targets)."""
    k = horizon_index
    ens = ensemble_return(member_outputs(preds, "ret", k), cfg, codes)
    return ((ens > 0) == (direction[:, k] > 0.5)).astype("float32")


def coverage_threshold(valid_prob: np.ndarray, cfg: VetoConfig) -> float:
    """The fixed threshold, or the one that keeps `coverage` of the validation rows; 0 (every
    row kept) when the veto is off (`enabled: false`: trained and reported, never gating)."""
    if not cfg.enabled:
        return 0.0
    if cfg.coverage is None or not len(valid_prob):
        return float(cfg.threshold)
    return float(np.quantile(valid_prob, 1.0 - cfg.coverage))


def train_veto(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    cfg: VetoConfig,
    seed: int,
) -> lgb.Booster:
    params = {
        **cfg.params,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
        "force_col_wise": True,
    }
    train = lgb.Dataset(x_train, y_train, feature_name=names, free_raw_data=False)
    valid = lgb.Dataset(x_valid, y_valid, reference=train, free_raw_data=False)
    return lgb.train(
        params,
        train,
        num_boost_round=cfg.num_boost_round,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
    )


def importance_table(booster: lgb.Booster) -> pd.DataFrame:
    gain = booster.feature_importance("gain")
    df = pd.DataFrame(
        {
            "feature": booster.feature_name(),
            "gain": gain,
            "split": booster.feature_importance("split"),
        }
    )
    df["gain_share"] = df["gain"] / max(df["gain"].sum(), 1e-12)
    return df.sort_values("gain", ascending=False).reset_index(drop=True)


def save_veto(booster: lgb.Booster, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "veto.txt"
    booster.save_model(str(path), num_iteration=booster.best_iteration or None)
    importance_table(booster).to_csv(folder / "veto_importance.csv", index=False)
    return path
