"""Out-of-sample forecast metrics with block-bootstrap confidence intervals over dates.

Every accuracy is reported next to the majority-class rate of the same rows. Confidence
intervals resample whole dates in moving blocks (default 20 bars, longer than any label
horizon) so that overlapping labels and same-day cross-sectional correlation are kept
together; naive per-row intervals would be far too narrow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.stats.ranking import (
    DateGroups,
    ic,
    per_date_rank_ic,
    rank_ic,
    roc_auc,
)


# ---------------------------------------------------------------------------- point metrics
def accuracy(pred_up: np.ndarray, up: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred_up, bool) == np.asarray(up, bool))) if len(up) else np.nan


def f1_up(pred_up: np.ndarray, up: np.ndarray) -> float:
    """F1 of the "up" class (0 when nothing is predicted up and nothing is up)."""
    p, y = np.asarray(pred_up, bool), np.asarray(up, bool)
    tp = np.sum(p & y)
    denom = 2 * tp + np.sum(p & ~y) + np.sum(~p & y)
    return float(2 * tp / denom) if denom else 0.0


def brier(prob_up: np.ndarray, up: np.ndarray) -> float:
    return float(np.mean((np.asarray(prob_up, float) - np.asarray(up, float)) ** 2))


def calibration_table(
    prob_up: np.ndarray, up: np.ndarray, bins: int = 10, strategy: str = "uniform"
) -> pd.DataFrame:
    """Reliability table as sklearn's `calibration_curve`: equal-width ("uniform") or
    equal-count ("quantile") probability bins; mean forecast, observed up-share and count per
    non-empty bin."""
    p = np.asarray(prob_up, float)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, bins + 1))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', not {strategy!r}")
    idx = np.searchsorted(edges[1:-1], p)  # a value on an edge joins the lower bin
    cnt = np.bincount(idx, minlength=bins)
    mean_p = np.bincount(idx, p, minlength=bins)
    frac = np.bincount(idx, np.asarray(up, float), minlength=bins)
    nz = cnt > 0
    return pd.DataFrame(
        {
            "bin_lo": edges[:-1][nz],
            "bin_hi": edges[1:][nz],
            "mean_prob": mean_p[nz] / cnt[nz],
            "frac_up": frac[nz] / cnt[nz],
            "n": cnt[nz],
        }
    )


# ---------------------------------------------------------------------------- bootstrap
MIN_DATES = 20  # fewer distinct dates than this: no interval (it would be spuriously tight)


def block_bootstrap_indices(
    n: int, n_boot: int, block: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_boot, n) indices of a moving-block bootstrap of a length-n ordered series."""
    block = max(1, min(block, n))
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)
    return idx[:, :n]


def percentile_interval(vals: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """(alpha/2, 1 - alpha/2) quantiles of the finite replicates; NaNs when there are none."""
    vals = np.asarray(vals, float)
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def date_replicates(
    dates: np.ndarray, n_boot: int, block: int, seed: int
) -> tuple[DateGroups, np.ndarray] | None:
    """Rows grouped by date and (n_boot, n_dates) resampled date indices; None when there are
    too few dates for an interval."""
    groups = DateGroups.of(dates)
    if groups.n_dates < MIN_DATES:
        return None
    idx = block_bootstrap_indices(groups.n_dates, n_boot, block, np.random.default_rng(seed))
    return groups, idx


def bootstrap_ci(
    stat,
    arrays: tuple[np.ndarray, ...],
    dates: np.ndarray,
    *,
    n_boot: int = 200,
    block: int = 20,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of `stat(*arrays)` under a moving-block bootstrap over dates."""
    rep = date_replicates(dates, n_boot, block, seed)
    if rep is None:
        return (float("nan"), float("nan"))
    groups, idx = rep
    vals = np.empty(n_boot)
    for b in range(n_boot):
        r = groups.rows(idx[b])
        vals[b] = stat(*(a[r] for a in arrays))
    return percentile_interval(vals, alpha)


def ratio_ci(
    num: np.ndarray,
    den: np.ndarray,
    dates: np.ndarray,
    *,
    n_boot: int = 1000,
    block: int = 20,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """CI of sum(num) / sum(den) (accuracy, Brier, a mean) with all replicates at once."""
    rep = date_replicates(dates, n_boot, block, seed)
    if rep is None:
        return (float("nan"), float("nan"))
    groups, idx = rep
    n_d = np.bincount(groups.codes, np.asarray(num, float), minlength=groups.n_dates)
    d_d = np.bincount(groups.codes, np.asarray(den, float), minlength=groups.n_dates)
    with np.errstate(invalid="ignore", divide="ignore"):
        vals = n_d[idx].sum(1) / d_d[idx].sum(1)
    return percentile_interval(vals, alpha)


# ---------------------------------------------------------------------------- report
def forecast_metrics(
    score: np.ndarray,
    prob_up: np.ndarray | None,
    pred_up: np.ndarray,
    realized: np.ndarray,
    dates: np.ndarray,
    *,
    n_boot: int = 200,
    block: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """All direction and ranking metrics of one forecast on out-of-sample rows.

    score: larger = more bullish (a predicted return or a probability) for AUC and IC;
    prob_up: a probability for Brier (None: not a probabilistic forecast);
    pred_up: the call; realized: the forward return (direction = realized > 0).
    """
    m = np.isfinite(realized) & np.isfinite(score)
    score, pred_up, realized, dates = score[m], pred_up[m], realized[m], dates[m]
    up = realized > 0
    correct = (np.asarray(pred_up, bool) == up).astype(float)
    ones = np.ones(len(up))
    base = float(up.mean()) if len(up) else np.nan
    acc = float(correct.mean()) if len(up) else np.nan
    daily_ic = per_date_rank_ic(score, realized, dates)
    out: dict[str, float] = {
        "n": len(up),
        "n_dates": len(np.unique(dates)),
        "accuracy": acc,
        "majority_rate": max(base, 1 - base),
        "up_rate": base,
        "accuracy_minus_majority": acc - max(base, 1 - base),
        "f1": f1_up(pred_up, up),
        "auc": roc_auc(score, up),
        "ic": ic(score, realized),
        "rank_ic": rank_ic(score, realized),
        "date_rank_ic": float(daily_ic.mean()) if len(daily_ic) else np.nan,
        "date_rank_ic_t": _t_stat(daily_ic),
        "predicted_up_share": float(np.mean(pred_up)),
    }
    if not len(up) or n_boot <= 0:
        return out
    kw = {"n_boot": n_boot, "block": block, "seed": seed}
    out["accuracy_ci"] = ratio_ci(correct, ones, dates, **{**kw, "n_boot": 1000})
    out["majority_ci"] = ratio_ci(up.astype(float), ones, dates, **{**kw, "n_boot": 1000})
    out["accuracy_minus_majority_ci"] = _edge_ci(correct, up, dates, n_boot, block, seed)
    out["auc_ci"] = bootstrap_ci(roc_auc, (score, up), dates, **kw)
    out["rank_ic_ci"] = bootstrap_ci(rank_ic, (score, realized), dates, **kw)
    v = daily_ic.dropna()
    if len(v) > 1:
        out["date_rank_ic_ci"] = ratio_ci(v.to_numpy(), np.ones(len(v)), v.index, **kw)
    if prob_up is not None:
        p = np.asarray(prob_up, float)[m]
        sq = (p - up) ** 2
        out["brier"] = float(sq.mean())
        out["brier_ci"] = ratio_ci(sq, ones, dates, **{**kw, "n_boot": 1000})
        out["brier_climatology"] = float(base * (1 - base))  # always forecasting the up-rate
    return out


def _edge_ci(correct, up, dates, n_boot, block, seed) -> tuple[float, float]:
    """CI of accuracy minus the majority rate, all replicates at once from per-date sums."""
    rep = date_replicates(dates, n_boot, block, seed)
    if rep is None:
        return (float("nan"), float("nan"))
    groups, idx = rep
    n = np.bincount(groups.codes)[idx].sum(1)
    acc = np.bincount(groups.codes, correct)[idx].sum(1) / n
    u = np.bincount(groups.codes, np.asarray(up, float))[idx].sum(1) / n
    return percentile_interval(acc - np.maximum(u, 1 - u))


def _t_stat(x: pd.Series) -> float:
    x = x.dropna()
    if len(x) < 3 or x.std() == 0:
        return float("nan")
    return float(x.mean() / x.std(ddof=1) * np.sqrt(len(x)))
