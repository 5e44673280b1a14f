"""The LightGBM veto: will the ensemble's direction be right? Trained on out-of-fold rows only.

Features (the spec's 551): the 541 inputs at t (29 classical + 512 embedding), the 6 model
predictions (TimeFormer and TFT returns at 3/5/10 bars) and 4 per-sample uncertainties
(TimeFormer's predicted std, TFT's Gaussian-equivalent std, TFT's P90 - P10, TimeFormer's
attention entropy) at the ensemble horizon. Label: sign(ensemble return) == direction of the
realised return. Early stopping on the latest fold's OOF rows, training on the earlier folds'.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from tradeformer.config import EnsembleConfig, VetoConfig
from tradeformer.features.columns import CLASSICAL_COLUMNS
from tradeformer.training.ensemble import ensemble_return

PRED_COLUMNS = ("tf_ret", "tft_ret")


def veto_feature_names(
    horizons: tuple[int, ...], emb_dim: int, context_names: tuple[str, ...] = CLASSICAL_COLUMNS
) -> list[str]:
    preds = [f"{m}_{h}" for m in PRED_COLUMNS for h in horizons]
    unc = ["tf_uncertainty", "tft_uncertainty", "tft_quantile_range", "tf_attention_entropy"]
    return [*context_names, *(f"emb_{i:03d}" for i in range(emb_dim)), *preds, *unc]


def veto_features(
    context: np.ndarray, embedding: np.ndarray, tf: dict, tft: dict, horizon_index: int
) -> np.ndarray:
    k = horizon_index
    unc = np.stack(
        [
            tf["uncertainty"][:, k],
            tft["uncertainty"][:, k],
            tft["q_range"][:, k],
            tf["attn_entropy"],
        ],
        axis=1,
    )
    return np.concatenate([context, embedding, tf["ret"], tft["ret"], unc], axis=1).astype(
        "float32"
    )


def veto_labels(
    tf: dict,
    tft: dict,
    direction: np.ndarray,
    horizon_index: int,
    cfg: EnsembleConfig,
    codes: np.ndarray | None = None,
) -> np.ndarray:
    """1 where the ensemble's side (score > 0) matches the target direction (up, or above
    the date's median for cross-sectional targets)."""
    k = horizon_index
    ens = ensemble_return(tf["ret"][:, k], tft["ret"][:, k], cfg, codes)
    return ((ens > 0) == (direction[:, k] > 0.5)).astype("float32")


def coverage_threshold(valid_prob: np.ndarray, cfg: VetoConfig) -> float:
    """The fixed threshold, or the one that keeps `coverage` of the validation rows."""
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
