"""The factor tear sheet's numbers against alphalens-reloaded on the same factor data
(quintiles, per-date IC, demeaned quintile returns, turnover), and its report section."""

from __future__ import annotations

import alphalens as al
import numpy as np
import pandas as pd

from tradeformer.evaluation.tearsheet import (
    factor_frame,
    quantile_returns,
    quantile_turnover,
    tear_sheet,
)
from tradeformer.evaluation.tearsheet_report import tear_sheet_section
from tradeformer.stats.ranking import per_date_rank_ic


def _predictions(n_dates=260, n_names=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates)
    idx = pd.MultiIndex.from_product([dates, [f"S{i:02d}" for i in range(n_names)]])
    d = idx.to_frame(index=False, name=["timestamp", "symbol"])
    persistent = np.repeat(rng.normal(size=n_names)[None], n_dates, 0).ravel()  # sticky ranks
    d["ensemble_ret_3"] = persistent + rng.normal(0, 0.5, len(d))
    d["ret_3"] = 0.002 * d["ensemble_ret_3"] + rng.normal(0, 0.02, len(d))
    d["ret_5"] = d["ret_3"] + rng.normal(0, 0.01, len(d))
    d["next_ret_1"] = rng.normal(0.0003, 0.01, len(d))
    return d


def _alphalens_frame(d: pd.DataFrame) -> pd.DataFrame:
    fd = d.set_index(["timestamp", "symbol"])[["ret_3", "factor"]].rename(columns={"ret_3": "3D"})
    fd.index = fd.index.set_names(["date", "asset"])
    fd["factor_quantile"] = al.utils.quantize_factor(fd, quantiles=5)
    return fd


def test_quintiles_ic_returns_and_turnover_equal_alphalens():
    d = factor_frame(_predictions(), horizon=3)
    fd = _alphalens_frame(d)
    np.testing.assert_array_equal(d["quantile"].to_numpy(), fd["factor_quantile"].to_numpy())
    ours_ic = per_date_rank_ic(d["factor"], d["ret_3"], d["timestamp"])
    theirs_ic = al.performance.factor_information_coefficient(fd)["3D"]
    np.testing.assert_allclose(ours_ic.to_numpy(), theirs_ic.to_numpy(), atol=1e-12)
    theirs_q = al.performance.mean_return_by_quantile(fd, by_date=False, demeaned=True)[0]["3D"]
    np.testing.assert_allclose(
        quantile_returns(d, "ret_3")["mean_bps"].to_numpy(), theirs_q.to_numpy() * 1e4, rtol=1e-9
    )
    for q in (1, 5):
        theirs_t = al.performance.quantile_turnover(fd["factor_quantile"], q, period=1)
        ours_t = quantile_turnover(d, q)
        np.testing.assert_allclose(ours_t.to_numpy(), theirs_t.to_numpy(), atol=1e-12)


def test_tear_sheet_sees_the_planted_signal_and_renders(tmp_path):
    pred = _predictions()
    ts = tear_sheet(pred, 3)
    assert ts.ic.mean() > 0.05 and ts.ic_by_horizon.loc[3, "nw_t"] > 3
    q = ts.quantile_returns["mean_bps"].to_numpy()
    assert (np.diff(q) > 0).all()  # monotone in the score
    s = ts.sharpe_by_cost
    assert (np.diff(s.to_numpy()) < 0).all()  # costs only ever lower the net Sharpe
    assert set(ts.market) == {"beta", "correlation"} and len(ts.by_symbol) == 40
    tables, figs = tear_sheet_section(pred, 3, tmp_path)
    assert len(tables) == 4 and all(p.stat().st_size > 10_000 for _, p in figs)
    assert tear_sheet_section(pred.drop(columns="next_ret_1"), 3, tmp_path) == ([], [])
    few = pred[pred["symbol"].isin(["S00", "S01", "S02"])]  # no cross-section for quintiles
    assert tear_sheet_section(few, 3, tmp_path) == ([], [])
