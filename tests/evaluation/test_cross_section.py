"""The cross-sectional scorecard: decile long-short, veto against a random veto, the ensemble
paired against a baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.evaluation.cross_section import (
    ic_summary,
    paired_ic_difference,
    veto_versus_random,
)


def test_ic_summary_sees_a_planted_ranking_and_not_noise():
    rng = np.random.default_rng(0)
    dates = np.repeat(pd.bdate_range("2020-01-01", periods=300).to_numpy(), 50)
    realized = rng.normal(size=len(dates))
    good = ic_summary(realized + rng.normal(scale=5, size=len(dates)), realized, dates, 5)
    assert good["date_rank_ic_ci"][0] > 0.1 and good["date_rank_ic_nw_t"] > 5
    # a 95 % interval of pure noise excludes 0 about once in 20 (P(>= 5 of 20) ~ 0.3 %)
    excluded = 0
    for seed in range(20):
        g = np.random.default_rng(100 + seed)
        noise = ic_summary(g.normal(size=len(dates)), realized, dates, 5, n_boot=300)
        lo, hi = noise["date_rank_ic_ci"]
        excluded += not lo < 0 < hi
    assert excluded <= 4


def test_a_random_veto_is_no_better_than_its_base():
    rng = np.random.default_rng(1)
    n = 5000
    dates = np.repeat(np.arange(100), 50)
    above = (rng.random(n) > 0.5).astype(float)
    right = (rng.random(n) > 0.45).astype(float)
    kept = right.astype(bool) | (rng.random(n) < 0.3)  # a veto that knows the answer
    v = veto_versus_random(right, above, kept, dates)
    assert v["accuracy_kept"] > v["random_veto_range"][1] > v["random_veto_accuracy"]
    assert v["random_veto_accuracy"] == pytest.approx(right.mean(), abs=0.02)


def _panel(seed: int, n_dates: int = 300, names: int = 50):
    rng = np.random.default_rng(seed)
    dates = np.repeat(pd.bdate_range("2020-01-01", periods=n_dates).to_numpy(), names)
    return rng, dates, rng.normal(size=len(dates))


def test_paired_difference_is_the_difference_of_the_two_scorecards():
    rng, dates, realized = _panel(2)
    a = realized + rng.normal(scale=4, size=len(dates))
    b = realized + rng.normal(scale=8, size=len(dates))
    b[:500] = np.nan  # rows one forecast lacks are left out of both
    d = paired_ic_difference(a, b, realized, dates, 5, n_boot=300)
    keep = np.isfinite(b)
    ia = ic_summary(a[keep], realized[keep], dates[keep], 5, n_boot=0)["date_rank_ic"]
    ib = ic_summary(b[keep], realized[keep], dates[keep], 5, n_boot=0)["date_rank_ic"]
    assert d["ours"] == pytest.approx(ia) and d["theirs"] == pytest.approx(ib)
    assert d["difference"] == pytest.approx(ia - ib)
    assert d["difference_ci"][0] > 0 and d["difference_nw_t"] > 3  # a is the better one


def test_paired_difference_of_two_equally_good_forecasts_includes_zero():
    excluded = 0
    for seed in range(20):
        rng, dates, realized = _panel(10 + seed, n_dates=200, names=30)
        shared = realized + rng.normal(scale=4, size=len(dates))
        a = shared + rng.normal(scale=1, size=len(dates))
        b = shared + rng.normal(scale=1, size=len(dates))
        lo, hi = paired_ic_difference(a, b, realized, dates, 3, n_boot=300)["difference_ci"]
        excluded += not lo < 0 < hi
    assert excluded <= 4  # ~1 in 20 by chance; P(>= 5 of 20) ~ 0.3 %


def test_pairing_narrows_the_interval_of_correlated_forecasts():
    rng, dates, realized = _panel(3)
    shared = realized + rng.normal(scale=4, size=len(dates))
    a, b = shared + rng.normal(size=len(dates)), shared + rng.normal(size=len(dates))
    lo, hi = paired_ic_difference(a, b, realized, dates, 5)["difference_ci"]
    alo, ahi = ic_summary(a, realized, dates, 5)["date_rank_ic_ci"]
    blo, bhi = ic_summary(b, realized, dates, 5)["date_rank_ic_ci"]
    unpaired = np.hypot(ahi - alo, bhi - blo)  # as if the two were independent
    assert hi - lo < 0.5 * unpaired
