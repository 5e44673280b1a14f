"""The t-statistic of a mean of autocorrelated values (daily ICs of overlapping h-bar labels):
Newey-West long-run variance with a Bartlett kernel. Below `training` and `evaluation`, which
both use it (OOF weight significance; the scorecard's NW t)."""

from __future__ import annotations

import numpy as np


def newey_west_t(x: np.ndarray, lags: int) -> float:
    """t-statistic of mean(x) with the Newey-West (Bartlett kernel) long-run variance over
    `lags` autocovariances, without a small-sample correction (statsmodels' OLS on a constant
    with cov_type="HAC", use_correction=False gives the same number)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < max(3, lags + 2):
        return float("nan")
    e = x - x.mean()
    lrv = e @ e / n
    for lag in range(1, lags + 1):
        lrv += 2.0 * (1.0 - lag / (lags + 1.0)) * (e[lag:] @ e[:-lag]) / n
    if lrv <= 0:
        return float("nan")
    return float(x.mean() / np.sqrt(lrv / n))
