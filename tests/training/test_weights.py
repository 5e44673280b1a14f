"""Ensemble weights from out-of-fold rank ICs: proportional to the IC, and with `oof_significant`
only over members whose daily ICs are distinguishable from 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.config import EnsembleConfig
from tradeformer.dataset.cross_section import date_codes
from tradeformer.training.weights import (
    ic_weights,
    oof_rank_ic_stats,
    resolve_weights,
    significant_weights,
)


def _folds(n_dates: int = 400, n_names: int = 60, seed: int = 0):
    """Two folds of OOF forecasts: `strong` ranks the target, `weak` barely, `noise` not."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(pd.bdate_range("2015-01-01", periods=n_dates).to_numpy(), n_names)
    target = rng.normal(size=(len(dates), 1))
    forecasts = {
        "strong": target[:, 0] + rng.normal(scale=4.0, size=len(dates)),
        "weak": target[:, 0] + rng.normal(scale=60.0, size=len(dates)),
        "noise": rng.normal(size=len(dates)),
    }
    half = len(dates) // 2
    folds = []
    for i, rows in enumerate((np.arange(half), np.arange(half, len(dates)))):
        preds = {m: {"ret": f[rows, None]} for m, f in forecasts.items()}
        folds.append((i, rows, preds))
    return folds, target, date_codes(dates)


def test_stats_see_the_planted_ranking_and_not_the_noise():
    folds, target, codes = _folds()
    stats = oof_rank_ic_stats(folds, target, codes, 0, lags=3)
    assert stats["strong"]["ic"] > 0.15 and stats["strong"]["t"] > 10
    assert abs(stats["noise"]["t"]) < 3
    assert stats["weak"]["ic"] < stats["strong"]["ic"]


def test_significant_weights_drop_members_under_min_t():
    stats = {
        "a": {"ic": 0.03, "t": 3.0},
        "b": {"ic": 0.01, "t": 1.2},
        "c": {"ic": 0.02, "t": np.nan},
    }
    assert significant_weights(stats, 2.0) == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert significant_weights(stats, 1.0) == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.0})


def test_no_significant_member_falls_back_to_ic_weights():
    stats = {"a": {"ic": 0.03, "t": 1.5}, "b": {"ic": 0.01, "t": 0.5}}
    assert significant_weights(stats, 2.0) == ic_weights({"a": 0.03, "b": 0.01})


@pytest.mark.parametrize("weighting", ["oof_rank_ic", "oof_significant"])
def test_resolved_weights_sum_to_one_and_follow_the_rule(weighting):
    folds, target, codes = _folds()
    stats = oof_rank_ic_stats(folds, target, codes, 0, lags=3)
    cfg = EnsembleConfig(weights={m: 1 / 3 for m in stats}, average=0.0, weighting=weighting)
    w = resolve_weights(cfg, stats).weights
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["strong"] > w["weak"]
    if weighting == "oof_significant":
        assert w["noise"] == 0.0


def test_fixed_weighting_keeps_the_config():
    cfg = EnsembleConfig()
    assert resolve_weights(cfg, {"timeformer": {"ic": 0.05, "t": 5.0}}) is cfg
