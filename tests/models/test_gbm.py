"""The boosted ranking member: out-of-fold predictions that no validation label reaches (it
stops on the end of its own training rows), seed averaging, and its files (LightGBM text,
reloaded bit for bit).
Its inputs' causality is tested with the other per-date transforms
(tests/dataset/test_cross_section.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.dataset.test_cross_section import _universe
from tradeformer.data import load_sample
from tradeformer.models import build_model
from tradeformer.models.gbm import GBMRanker, member_features
from tradeformer.models.persist import load_member, member_files, save_member
from tradeformer.models.registry import describe_model

FAST = {"min_data_in_leaf": 40, "num_boost_round": 20, "num_leaves": 7, "num_threads": 1}


@pytest.fixture(scope="module")
def universe():
    bars = load_sample().bars
    return _universe(
        {
            s: b[(b["timestamp"] >= "2008-01-01") & (b["timestamp"] < "2013-01-01")]
            for s, b in bars.items()
        }
    )


def _rows(u, start, end):
    return u.rows_between(pd.Timestamp(start), pd.Timestamp(end))


def test_oof_predictions_come_only_from_rows_that_trained_it(universe):
    """Early stopping on (on the last dates of its training rows): scrambling every target
    outside the training rows (the fold's validation rows and everything later) leaves the
    validation predictions bit-identical; scrambling a training target changes them."""
    u = universe
    tr, va = _rows(u, "2008-01-01", "2011-06-30"), _rows(u, "2011-07-15", "2012-06-30")
    model = build_model("gbm", "small", early_stopping_rounds=5, **FAST)
    model.fit(u, tr, va, seeds=(3,))
    base = model.predict_rows(u, va)["ret"]
    rng = np.random.default_rng(0)
    saved = u.target_ret.copy()
    try:
        outside = np.setdiff1d(np.arange(len(u.target_ret)), tr)
        u.target_ret[outside] = rng.permutation(u.target_ret[outside])
        again = build_model("gbm", "small", early_stopping_rounds=5, **FAST)
        again.fit(u, tr, va, seeds=(3,))
        np.testing.assert_array_equal(again.predict_rows(u, va)["ret"], base)
        u.target_ret[tr] = rng.permutation(u.target_ret[tr])
        moved = build_model("gbm", "small", early_stopping_rounds=5, **FAST)
        moved.fit(u, tr, va, seeds=(3,))
        assert not np.array_equal(moved.predict_rows(u, va)["ret"], base)
    finally:
        u.target_ret[:] = saved


def test_early_stopping_reads_a_rank_ic(universe):
    """On the inner block by default; on the fold's validation block when asked."""
    from tradeformer.models.gbm import inner_split

    u = universe
    tr, va = _rows(u, "2008-01-01", "2011-06-30"), _rows(u, "2011-07-15", "2012-06-30")
    codes = np.unique(u.timestamps, return_inverse=True)[1]
    fit, stop = inner_split(tr, codes, 250, 10)
    assert len(np.unique(codes[stop])) == 250 and codes[fit].max() + 11 == codes[stop].min()
    model = build_model("gbm", "small", early_stopping_rounds=5, stop_on="validation", **FAST)
    history = model.fit(u, tr, va, seeds=(0,))
    assert [h["horizon"] for h in history] == list(u.horizons)
    for h, b in zip(history, model.boosters, strict=True):
        assert 1 <= h["best_round"] <= 20 and b.best_iteration == h["best_round"]
        assert -1 < h["val_rank_ic"] < 1


def test_seeds_average_their_forecasts(universe):
    u = universe
    tr, va = _rows(u, "2008-01-01", "2011-06-30"), _rows(u, "2011-07-15", "2012-06-30")
    kw = {"bagging_fraction": 0.5, "feature_fraction": 0.5, **FAST}
    pair = build_model("gbm", "small", **kw)
    pair.fit(u, tr, va, seeds=(1, 2))
    singles = []
    for s in (1, 2):
        m = build_model("gbm", "small", **kw)
        m.fit(u, tr, va, seeds=(s,))
        singles.append(m.predict_rows(u, va)["ret"])
    assert not np.array_equal(singles[0], singles[1])
    np.testing.assert_allclose(pair.predict_rows(u, va)["ret"], np.mean(singles, 0), atol=1e-6)


def test_files_are_lightgbm_text_and_reload_bit_for_bit(universe, tmp_path):
    u = universe
    tr, va = _rows(u, "2008-01-01", "2011-06-30"), _rows(u, "2011-07-15", "2012-06-30")
    model = build_model("gbm", "small", **FAST)
    model.fit(u, tr, va, seeds=(0, 1))
    save_member(model, tmp_path, "gbm")
    entry = describe_model("gbm", model)
    assert entry["seeds"] == 2 and entry["n_horizons"] == len(u.horizons)
    files = member_files("gbm", entry)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    assert (tmp_path / files[0]).read_text().startswith("tree")
    back = load_member(entry, tmp_path, "gbm")
    assert isinstance(back, GBMRanker)
    for key, value in model.predict_rows(u, va).items():
        np.testing.assert_array_equal(back.predict_rows(u, va)[key], value)


def test_inputs_are_the_context_and_the_price_summaries(universe):
    u = universe
    x, names = member_features(u)
    assert x.shape == (len(u.context), len(names)) and names[: u.context.shape[1]] == list(
        u.context_names
    )
    for col in ("past_ret_60", "mom_12_1", "dist_52w_high", "volume_z", "vol_20_cs_rank"):
        assert col in names
    # spot values against a direct computation on one symbol's bars
    k = 1
    a, b = u.offsets[k], u.offsets[k + 1]
    close, high = u.ohlcv[a:b, 3], u.ohlcv[a:b, 1]
    i = 400
    col = {n: j for j, n in enumerate(names)}
    assert x[a + i, col["past_ret_20"]] == pytest.approx(np.log(close[i] / close[i - 20]), 1e-5)
    assert x[a + i, col["dist_52w_high"]] == pytest.approx(
        np.log(close[i] / high[i - 251 : i + 1].max()), 1e-5
    )
    r = np.diff(np.log(close))[i - 20 : i]
    assert x[a + i, col["vol_20"]] == pytest.approx(r.std(ddof=1), 1e-4)
