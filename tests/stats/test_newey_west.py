"""The Newey-West t against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest

from tradeformer.stats.newey_west import newey_west_t


@pytest.mark.parametrize("lags", [0, 3, 10])
def test_newey_west_t_matches_statsmodels(lags):
    import statsmodels.api as sm  # a dev dependency: the reference must be there

    rng = np.random.default_rng(lags)
    e = rng.normal(size=800)
    x = 0.05 + np.convolve(e, np.ones(5) / 5, mode="same")  # autocorrelated, like daily ICs
    fit = sm.OLS(x, np.ones(len(x))).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}
    )
    assert newey_west_t(x, lags) == pytest.approx(float(fit.tvalues[0]), rel=1e-9)


def test_too_few_values_give_nan():
    assert np.isnan(newey_west_t(np.array([0.1, 0.2]), 5))
