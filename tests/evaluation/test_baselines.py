"""Baselines: the rolling mean against pandas, no look-ahead, the classical model's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.dataset.universe import Universe
from tradeformer.evaluation.baselines import (
    always_up,
    beats_date_median,
    classical_lgbm,
    cross_sectional_signal,
    random_forecast,
    rolling_mean_within,
    sma_crossover,
)
from tradeformer.features.columns import CLASSICAL_COLUMNS


@pytest.fixture(scope="module")
def closes(shared_data):
    out = {}
    for sym in ("AAPL", "XOM", "KO"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        out[sym] = d["close"].to_numpy()[-1500:]
    return out


def _universe(closes: dict[str, np.ndarray], rng) -> Universe:
    c = np.concatenate(list(closes.values()))
    n = len(c)
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in closes.values()])])
    ohlcv = np.column_stack([c, c, c, c, np.ones(n)])
    fwd = np.full(n, np.nan)
    fwd[:-3] = np.log(c[3:] / c[:-3])
    for o in offsets[1:]:
        fwd[o - 3 : o] = np.nan
    return Universe(
        symbols=list(closes),
        offsets=offsets,
        timestamps=np.arange(n, dtype="int64"),
        ohlcv=ohlcv,
        context=rng.normal(size=(n, len(CLASSICAL_COLUMNS))).astype("float32"),
        embedding=np.zeros((n, 0), "float32"),
        ret=fwd[:, None].astype("float32"),
        direction=(fwd > 0).astype("float32")[:, None],
        horizons=(3,),
        eligible=np.ones(n, bool),
    )


def test_rolling_mean_matches_pandas_per_symbol(closes):
    c = np.concatenate(list(closes.values()))
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in closes.values()])])
    got = rolling_mean_within(c, offsets, 50)
    sym = np.repeat(np.arange(3), np.diff(offsets))
    ref = pd.Series(c).groupby(sym).transform(lambda s: s.rolling(50).mean()).to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, equal_nan=True)


def test_sma_crossover_does_not_look_ahead(closes):
    rng = np.random.default_rng(0)
    u = _universe(closes, rng)
    rows = np.arange(100, 1400)
    a = sma_crossover(u, rows).score
    u.ohlcv[1000:1500, 3] *= 2.0  # the future of row 999 of the first symbol
    b = sma_crossover(u, rows).score
    np.testing.assert_array_equal(a[rows < 1000], b[rows < 1000])
    assert not np.allclose(a[rows >= 1000], b[rows >= 1000])


def test_classical_model_never_sees_the_scored_rows_labels(closes):
    rng = np.random.default_rng(0)
    u = _universe(closes, rng)
    tr, va, te = np.arange(0, 900), np.arange(1500, 1900), np.arange(3000, 4400)
    a, _ = classical_lgbm(u, tr, va, te, 0)
    u.direction[te] = 1 - u.direction[te]
    b, _ = classical_lgbm(u, tr, va, te, 0)
    np.testing.assert_array_equal(a.prob_up, b.prob_up)


def test_simple_baselines():
    r = random_forecast(10_000, seed=3)
    assert 0.48 < r.pred_up.mean() < 0.52
    np.testing.assert_array_equal(r.score, random_forecast(10_000, seed=3).score)
    a = always_up(5, 0.54)
    assert a.pred_up.all() and (a.prob_up == 0.54).all()


def test_cross_sectional_signal_picks_the_extremes_of_each_date():
    dates = np.repeat(np.arange(3), [20, 2, 1])
    score = np.concatenate([np.arange(20.0), [0.5, 0.1], [1.0]])
    sig = cross_sectional_signal(score, dates, q=0.1)
    np.testing.assert_array_equal(np.flatnonzero(sig[:20] == 1), [18, 19])
    np.testing.assert_array_equal(np.flatnonzero(sig[:20] == -1), [0, 1])
    np.testing.assert_array_equal(sig[20:22], [1.0, -1.0])  # two names: one each side
    assert sig[22] == 0.0  # a lone name is not traded


def test_cross_sectional_label_beats_the_dates_median(closes):
    u = _universe(closes, np.random.default_rng(0))
    n = len(closes["AAPL"])
    u.timestamps = np.tile(np.arange(n), 3)  # the three symbols share dates
    rows = np.flatnonzero(np.isfinite(u.ret[:, 0]))
    y = beats_date_median(u, rows, 0)
    assert y.mean() == pytest.approx(1 / 3, abs=0.01)  # 3 names: only the top one beats it
