"""Ablations: the spec's "improvement sources", measured by retraining without each input.

A feature group is removed by making it carry no information: its columns are set to a
constant (0) before the train-slice scaler is fitted, so the network sees a constant input;
the embedding is removed by building the models with `embed_dim=0`. Each variant retrains
both deep models on the last walk-forward fold with the same seed, data and budget as the
full run's final models, and is scored on the same test rows. The ensemble-only and veto
variants need no retraining (they recombine the full run's predictions).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.universe import Universe
from tradeformer.errors import InputError
from tradeformer.features.columns import (
    CLASSICAL_COLUMNS,
    MTF_COLUMNS,
    SMC_COLUMNS,
    TECHNICAL_COLUMNS,
)
from tradeformer.training.prediction import predict_models

GROUPS: dict[str, tuple[str, ...]] = {
    "no_mtf": MTF_COLUMNS,
    "no_smc": SMC_COLUMNS,
    "no_ta": TECHNICAL_COLUMNS,
}
RETRAINED = ("no_embedding", *GROUPS)
DESCRIPTIONS = {
    "full": "all 541 inputs (the run's final models)",
    "no_embedding": "without the 512-D foundation embedding",
    "no_mtf": "without the 5 multi-timeframe columns",
    "no_smc": "without the 12 smart-money-concepts columns",
    "no_ta": "without the 12 technical indicators",
}


def member_only(member: str, title: str) -> str:
    """The description of the `<member>_only` row (the ensemble's other members removed)."""
    return f"{title} alone (the other members removed)"


def ablated_universe(u: Universe, name: str) -> Universe:
    """A shallow copy of `u` with one input group removed (labels and rows unchanged)."""
    if name == "no_embedding":
        return dataclasses.replace(u, embedding=np.zeros((len(u.timestamps), 0), "float32"))
    if name not in GROUPS:
        raise InputError(f"unknown ablation {name!r}; choose from {', '.join(RETRAINED)}")
    cols = [CLASSICAL_COLUMNS.index(c) for c in GROUPS[name]]
    ctx = u.context.copy()
    ctx[:, cols] = 0.0
    return dataclasses.replace(u, context=ctx)


def retrain_without(
    cfg: ExperimentConfig,
    u: Universe,
    fold,
    name: str,
    test_rows: np.ndarray,
    out_dir: Path,
    progress: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Every member retrained on `fold` without input group `name`; test predictions."""
    from tradeformer.stages.deep import fit_fold_models

    ua = ablated_universe(u, name)
    members, scaler, _ = fit_fold_models(
        cfg, ua, fold, out_dir=out_dir / name, progress=progress, log_level=logging.DEBUG
    )
    L = cfg.training.lookback
    outs = predict_models([m for _, m in members.values()], ua, test_rows, L, scaler)
    return dict(zip(members, outs, strict=True))
