"""Baselines scored on exactly the rows the ensemble is scored on.

- random: a seeded coin (score ~ U(0, 1));
- always_up: the majority call of daily equities; its probability is the *training* up-rate;
- sma_crossover: up when SMA(fast) > SMA(slow) of the closes up to t;
- classical_lgbm: LightGBM on the 29 classical features at t, trained on the rows before the
  test period (the last fold's training rows, early stopping on its validation rows);
- buy and hold is a backtest (long every symbol, every bar), see `backtest.run_backtest`.
Each returns per-row (score, prob_up or None, pred_up) for one horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from tradeformer.dataset.universe import Universe
from tradeformer.features.columns import CLASSICAL_COLUMNS


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


def classical_lgbm(
    u: Universe,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    rows: np.ndarray,
    horizon_index: int,
    seed: int = 0,
    params: dict | None = None,
) -> tuple[Forecast, lgb.Booster]:
    """LightGBM on the 29 classical features (no windows, no embedding)."""
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
    names = list(CLASSICAL_COLUMNS)
    y = u.direction[:, horizon_index]
    train = lgb.Dataset(u.context[train_rows], y[train_rows], feature_name=names)
    valid = lgb.Dataset(u.context[valid_rows], y[valid_rows], reference=train)
    booster = lgb.train(
        p,
        train,
        num_boost_round=500,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    prob = booster.predict(u.context[rows], num_iteration=booster.best_iteration or None)
    return Forecast(prob, prob, prob > 0.5), booster
