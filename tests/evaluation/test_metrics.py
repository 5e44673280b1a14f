"""Metric functions against scikit-learn / scipy on real series; the block bootstrap's parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from tradeformer.evaluation import metrics as M


@pytest.fixture(scope="module")
def real(shared_data):
    """Ten real symbols, 2015-2018: a momentum score, a probability and the 3-day outcome."""
    frames = []
    for sym in ("AAPL", "MSFT", "XOM", "JPM", "PG", "KO", "INTC", "CSCO", "PFE", "WMT"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        c = d["close"].to_numpy()
        mom = np.full(len(c), np.nan)
        mom[5:] = np.log(c[5:] / c[:-5])
        fwd = np.full(len(c), np.nan)
        fwd[:-3] = np.log(c[3:] / c[:-3])
        frames.append(pd.DataFrame({"date": d["timestamp"], "sym": sym, "score": mom, "fwd": fwd}))
    df = pd.concat(frames)
    df = df[(df["date"] >= "2015-01-01") & (df["date"] < "2019-01-01")].dropna()
    df["prob"] = 1 / (1 + np.exp(-df["score"] * 30))
    return df.reset_index(drop=True)


def test_point_metrics_match_sklearn_and_scipy(real):
    y = (real["fwd"] > 0).to_numpy()
    s = real["score"].to_numpy()
    p = real["prob"].to_numpy()
    pred = s > 0
    assert M.accuracy(pred, y) == pytest.approx(skm.accuracy_score(y, pred))
    assert M.f1_up(pred, y) == pytest.approx(skm.f1_score(y, pred))
    assert M.roc_auc(s, y) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert M.brier(p, y) == pytest.approx(skm.brier_score_loss(y, p))
    assert M.ic(s, real["fwd"]) == pytest.approx(stats.pearsonr(s, real["fwd"])[0])
    assert M.rank_ic(s, real["fwd"]) == pytest.approx(stats.spearmanr(s, real["fwd"])[0])
    # ties (a binary score) count one half, as in sklearn
    assert M.roc_auc(pred.astype(float), y) == pytest.approx(skm.roc_auc_score(y, pred))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_table_matches_sklearn(real, strategy):
    y = (real["fwd"] > 0).to_numpy()
    p = real["prob"].to_numpy()
    frac, mean = calibration_curve(y, p, n_bins=10, strategy=strategy)
    tb = M.calibration_table(p, y, bins=10, strategy=strategy)
    np.testing.assert_allclose(tb["frac_up"], frac)
    np.testing.assert_allclose(tb["mean_prob"], mean)
    assert tb["n"].sum() == len(y)


def test_per_date_rank_ic_matches_a_groupby_of_spearman(real):
    got = M.per_date_rank_ic(real["score"].to_numpy(), real["fwd"].to_numpy(), real["date"])
    ref = real.groupby("date").apply(
        lambda g: stats.spearmanr(g["score"], g["fwd"])[0] if len(g) >= 3 else np.nan
    )
    ref = ref.dropna()
    assert len(got.dropna()) == len(ref) > 900
    np.testing.assert_allclose(got.loc[ref.index].to_numpy(), ref.to_numpy(), atol=1e-12)


def test_date_groups_select_exactly_the_rows_of_the_dates(real):
    g = M.DateGroups.of(real["date"].to_numpy())
    pick = np.array([5, 5, 0, g.n_dates - 1])
    rows = g.rows(pick)
    dates = np.sort(real["date"].unique())
    expected = np.concatenate([np.flatnonzero(real["date"].to_numpy() == dates[k]) for k in pick])
    np.testing.assert_array_equal(np.sort(rows), np.sort(expected))


def test_block_bootstrap_indices_are_runs_of_consecutive_positions():
    idx = M.block_bootstrap_indices(103, 50, 10, np.random.default_rng(0))
    assert idx.shape == (50, 103)
    assert idx.min() >= 0 and idx.max() <= 102
    blocks = idx[:, :100].reshape(50, 10, 10)
    assert (np.diff(blocks, axis=2) == 1).all()


def test_iid_bootstrap_matches_the_binomial_standard_error():
    rng = np.random.default_rng(1)
    n = 4000
    correct = (rng.random(n) < 0.55).astype(float)
    dates = np.arange(n)
    lo, hi = M.ratio_ci(correct, np.ones(n), dates, block=1, n_boot=4000)
    se = np.sqrt(0.55 * 0.45 / n)
    assert (hi - lo) / (2 * 1.96 * se) == pytest.approx(1.0, rel=0.1)
    assert lo < correct.mean() < hi


@pytest.mark.real_data  # stand-ins share no market factor: their same-day rows are independent
def test_date_blocks_widen_the_interval_when_rows_share_a_date(real):
    """Same-day outcomes are correlated across symbols: resampling rows as if independent
    would be too narrow; resampling dates is what the metrics do."""
    correct = ((real["score"] > 0) == (real["fwd"] > 0)).to_numpy(float)
    ones = np.ones(len(correct))
    by_date = M.ratio_ci(correct, ones, real["date"].to_numpy(), block=20)
    by_row = M.ratio_ci(correct, ones, np.arange(len(correct)), block=1)
    assert (by_date[1] - by_date[0]) > 1.3 * (by_row[1] - by_row[0])


def test_forecast_metrics_report_the_majority_rate_next_to_accuracy(real):
    s, r = real["score"].to_numpy(), real["fwd"].to_numpy()
    m = M.forecast_metrics(s, None, np.ones(len(s), bool), r, real["date"].to_numpy(), n_boot=50)
    assert m["accuracy"] == pytest.approx(m["up_rate"])  # always up = the up-rate
    assert m["accuracy_minus_majority"] == pytest.approx(0.0)
    lo, hi = m["accuracy_ci"]
    assert lo < m["accuracy"] < hi
    assert "brier" not in m


def test_no_interval_from_a_handful_of_dates():
    dates = np.repeat(np.arange(5), 3)
    lo, hi = M.ratio_ci(np.ones(15), np.ones(15), dates)
    assert np.isnan(lo) and np.isnan(hi)
