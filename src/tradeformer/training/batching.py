"""Which rows an epoch trains on and in which batches: random rows, or whole dates (every
symbol of k dates, so a per-date correlation term can score the ranking within each date);
and the capped validation rows early stopping reads."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tradeformer.config import TrainingConfig
from tradeformer.stats.ranking import DateGroups


def subsample_rows(rows: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """At most `cap` of `rows`, drawn without replacement, in row order."""
    if cap is None or len(rows) <= cap:
        return rows
    return np.sort(rng.choice(rows, size=cap, replace=False))


def subsample_dates(
    rows: np.ndarray, codes: np.ndarray, cap: int | None, rng: np.random.Generator
) -> np.ndarray:
    """At most about `cap` rows made of whole dates (a cross-section is never cut)."""
    if cap is None or len(rows) <= cap:
        return rows
    groups = DateGroups.of(codes[rows])
    n_dates = max(1, int(cap / groups.counts.mean()))
    keep = np.sort(rng.choice(groups.n_dates, size=min(n_dates, groups.n_dates), replace=False))
    return np.sort(rows[groups.rows(keep)])


def validation_rows(
    rows: np.ndarray, codes: np.ndarray, cfg: TrainingConfig, rng: np.random.Generator
) -> np.ndarray:
    """The validation rows a fit scores each epoch: capped at `max_eval_samples`, in whole
    dates when batches are dates or early stopping reads the per-date rank IC."""
    if cfg.batching == "dates" or cfg.select_on == "rank_ic":
        return subsample_dates(rows, codes, cfg.max_eval_samples, rng)
    return subsample_rows(rows, cfg.max_eval_samples, rng)


def epoch_batches(
    rows: np.ndarray,
    codes: np.ndarray,
    cfg: TrainingConfig,
    rng: np.random.Generator,
    per_epoch: int,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """One epoch's batches: `per_epoch` random rows in batches of `batch_size`, or (dates)
    whole dates in random order, k = round(batch_size / mean names per date) dates a batch.
    `drop_last`: no short last batch of random rows (a compiled step keeps one shape)."""
    if cfg.batching == "random":
        perm = rng.permutation(rows)[:per_epoch]
        out = [perm[i : i + cfg.batch_size] for i in range(0, len(perm), cfg.batch_size)]
        if drop_last and len(out) > 1 and len(out[-1]) < cfg.batch_size:
            out = out[:-1]
        return out
    groups = DateGroups.of(codes[rows])
    per_date = groups.counts.mean()
    k = max(1, round(cfg.batch_size / per_date))
    n_dates = min(groups.n_dates, max(1, math.ceil(per_epoch / per_date)))
    order = rng.permutation(groups.n_dates)[:n_dates]
    return [rows[groups.rows(order[i : i + k])] for i in range(0, n_dates, k)]


def group_ids(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's date as 0..G-1 within its batch, and G."""
    ids, uniq = pd.factorize(codes)
    return ids, len(uniq)
