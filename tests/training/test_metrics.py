"""The training summary's metrics are the evaluation's (one implementation of each), over
the labelled rows only."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from tradeformer.evaluation import metrics as ev
from tradeformer.training import metrics as tr


def test_one_implementation_of_auc_and_rank_ic():
    assert tr.rank_ic is ev.rank_ic and tr.roc_auc is ev.roc_auc


def test_unlabelled_rows_are_left_out_not_counted_as_down():
    rng = np.random.default_rng(0)
    prob = rng.random(500)
    direction = (rng.random(500) < 0.55).astype(float)
    direction[-40:] = np.nan  # the last bars of a test period have no label yet
    got = tr.direction_metrics(prob, direction)
    y = direction[:-40] > 0.5
    assert got["n"] == 460
    assert np.isclose(got["auc"], roc_auc_score(y, prob[:-40]), rtol=1e-12)
    assert got["base_rate_up"] == y.mean()
    ret = rng.normal(size=500)
    actual = ret + rng.normal(size=500)
    actual[-40:] = np.nan
    assert np.isclose(tr.rank_ic(ret, actual), spearmanr(ret[:-40], actual[:-40]).statistic)
    veto = tr.veto_metrics(np.ones(500, bool), prob > 0.5, direction)
    assert veto["n_kept"] == 460


def test_veto_threshold_fixed_by_coverage_or_off():
    from tradeformer.config import VetoConfig
    from tradeformer.training.veto import coverage_threshold

    p = np.linspace(0.3, 0.7, 101)
    assert coverage_threshold(p, VetoConfig(threshold=0.6)) == 0.6
    thr = coverage_threshold(p, VetoConfig(coverage=0.3))
    assert (p >= thr).mean() == pytest.approx(0.3, abs=0.011)
    off = coverage_threshold(p, VetoConfig(coverage=0.3, enabled=False))
    assert off == 0.0 and (p >= off).all()
