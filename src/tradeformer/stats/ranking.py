"""Rank statistics that training, the models and the evaluation share: AUC, pooled and
per-date rank IC, and rows grouped by date. They live below all three (`training` and
`models` never import `evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def roc_auc(score: np.ndarray, up: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties count one half); NaN with a single class."""
    y = np.asarray(up, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def ic(pred: np.ndarray, actual: np.ndarray) -> float:
    """Pearson information coefficient (pooled over all rows)."""
    if len(pred) < 3 or np.std(pred) == 0 or np.std(actual) == 0:
        return float("nan")
    return float(np.corrcoef(pred, actual)[0, 1])


def rank_ic(pred: np.ndarray, actual: np.ndarray) -> float:
    """Spearman rank IC (pooled over the rows where both are finite; ties get mean ranks)."""
    pred, actual = np.asarray(pred, float), np.asarray(actual, float)
    ok = np.isfinite(pred) & np.isfinite(actual)
    if ok.sum() < 3:
        return float("nan")
    return ic(rankdata(pred[ok]), rankdata(actual[ok]))


def per_date_rank_ic(
    pred: np.ndarray, actual: np.ndarray, dates: np.ndarray, min_names: int = 3
) -> pd.Series:
    """Cross-sectional Spearman IC of each date with at least `min_names` symbols (vectorised:
    ranks within dates, then per-date covariance sums with bincount)."""
    df = pd.DataFrame({"d": dates, "p": pred, "a": actual})
    g = df.groupby("d", sort=True)
    n = g["p"].transform("size").to_numpy()
    keep = n >= min_names
    df = df[keep]
    if df.empty:
        return pd.Series(dtype="float64")
    g = df.groupby("d", sort=True)
    rp = g["p"].rank().to_numpy()
    ra = g["a"].rank().to_numpy()
    codes, uniq = pd.factorize(df["d"], sort=True)
    cnt = np.bincount(codes)
    xp = rp - (np.bincount(codes, rp) / cnt)[codes]
    xa = ra - (np.bincount(codes, ra) / cnt)[codes]
    num = np.bincount(codes, xp * xa)
    den = np.sqrt(np.bincount(codes, xp * xp) * np.bincount(codes, xa * xa))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return pd.Series(out, index=uniq, name="rank_ic")


@dataclass
class DateGroups:
    """Rows grouped by date, in date order: the unit the bootstrap resamples."""

    order: np.ndarray  # row indices sorted by date
    starts: np.ndarray  # (n_dates,) first position of each date in `order`
    counts: np.ndarray  # (n_dates,)
    codes: np.ndarray  # (n_rows,) date index of each row

    @classmethod
    def of(cls, dates: np.ndarray) -> DateGroups:
        codes, _ = pd.factorize(pd.Series(dates), sort=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return cls(order, starts, counts, codes)

    @property
    def n_dates(self) -> int:
        return len(self.counts)

    def rows(self, date_idx: np.ndarray) -> np.ndarray:
        """Row indices of the given dates (repeats allowed), concatenated without a loop."""
        lens = self.counts[date_idx]
        total = int(lens.sum())
        shift = np.repeat(self.starts[date_idx] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return self.order[shift + np.arange(total)]
