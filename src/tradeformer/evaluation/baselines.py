"""Baselines scored on exactly the rows the ensemble is scored on.

- random: a seeded coin (score ~ U(0, 1));
- always_up: the majority call of daily equities; its probability is the *training* up-rate;
- sma_crossover: up when SMA(fast) > SMA(slow) of the closes up to t;
- classical_lgbm: LightGBM on the 29 classical features at t, trained on the rows before the
  test period (the last fold's training rows, early stopping on its validation rows);
- classical_lgbm_xs: the same model on a *cross-sectional* label (beat the date's median forward
  return), the one label DESIGN.md's baseline study found a consistent rank IC with; it is
  traded as a long-short top/bottom-decile portfolio (`cross_sectional_signal`);
- buy and hold is a backtest (long every symbol, every bar), see `backtest.run_backtest`.
Each returns per-row (score, prob_up or None, pred_up) for one horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from tradeformer.dataset.universe import Universe


@dataclass
class Forecast:
    score: np.ndarray  # larger = more bullish
    prob_up: np.ndarray | None
    pred_up: np.ndarray  # bool


def random_forecast(n: int, seed: int = 0) -> Forecast:
    p = np.random.default_rng(seed).random(n)
    return Forecast(p, p, p > 0.5)


def always_up(n: int, train_up_rate: float) -> Forecast:
    return Forecast(np.zeros(n), np.full(n, train_up_rate), np.ones(n, bool))


def rolling_mean_within(values: np.ndarray, offsets: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` bars, never across symbol boundaries (NaN until full)."""
    c = np.concatenate([[0.0], np.cumsum(values, dtype="float64")])
    idx = np.arange(len(values))
    start = idx - window + 1
    first = np.repeat(offsets[:-1], np.diff(offsets))
    out = (c[idx + 1] - c[np.maximum(start, 0)]) / window
    out[start < first] = np.nan
    return out


def sma_crossover(u: Universe, rows: np.ndarray, fast: int = 20, slow: int = 50) -> Forecast:
    close = u.ohlcv[:, 3]
    f = rolling_mean_within(close, u.offsets, fast)[rows]
    s = rolling_mean_within(close, u.offsets, slow)[rows]
    score = f / s - 1.0
    return Forecast(score, None, score > 0)


def beats_date_median(u: Universe, rows: np.ndarray, horizon_index: int) -> np.ndarray:
    """1.0 where the row's forward return beats the median of its date (over `rows`)."""
    r = u.ret[rows, horizon_index].astype("float64")
    med = pd.Series(r).groupby(u.timestamps[rows]).transform("median").to_numpy()
    return (r > med).astype("float32")


def cross_sectional_signal(score: np.ndarray, dates: np.ndarray, q: float = 0.1) -> np.ndarray:
    """+1 for the top `q` of each date's scores, -1 for the bottom `q` (at least one name each
    side when a date has >= 2 names), 0 otherwise."""
    s = pd.Series(score)
    g = s.groupby(np.asarray(dates))
    rank = g.rank(method="first").to_numpy()
    n = g.transform("size").to_numpy()
    k = np.maximum(1, np.floor(q * n))
    out = np.where(rank > n - k, 1.0, np.where(rank <= k, -1.0, 0.0))
    return np.where(n >= 2, out, 0.0)


def classical_lgbm(
    u: Universe,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    rows: np.ndarray,
    horizon_index: int,
    seed: int = 0,
    params: dict | None = None,
    cross_sectional: bool = False,
    features: tuple[np.ndarray, list[str]] | None = None,
) -> tuple[Forecast, lgb.Booster]:
    """LightGBM on the universe's context columns at t (the 29 classical features, after the
    run's normalisation; no windows, no embedding), or on `features` (an (N, F) matrix over
    all universe rows and its names); the label is the raw direction, or with
    `cross_sectional` whether the return beats its date's median."""
    p = {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 200,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 5,
        "lambda_l2": 1.0,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
        "force_col_wise": True,
        **(params or {}),
    }
    x, names = features if features is not None else (u.context, list(u.context_names))
    if cross_sectional:
        y_tr = beats_date_median(u, train_rows, horizon_index)
        y_va = beats_date_median(u, valid_rows, horizon_index)
    else:
        y_tr = u.direction[train_rows, horizon_index]
        y_va = u.direction[valid_rows, horizon_index]
    train = lgb.Dataset(x[train_rows], y_tr, feature_name=names)
    valid = lgb.Dataset(x[valid_rows], y_va, reference=train)
    booster = lgb.train(
        p,
        train,
        num_boost_round=500,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    prob = booster.predict(x[rows], num_iteration=booster.best_iteration or None)
    return Forecast(prob, prob, prob > 0.5), booster
