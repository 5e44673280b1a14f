"""A factor tear sheet of a run's ensemble score on its test rows, as alphalens lays one out:
per-date rank IC (over time, rolling, by year, its distribution, its decay over horizons), the
mean forward return by score quintile and the quintiles' cumulative returns, quintile
turnover, the decile long-short's net Sharpe as a function of cost and its market beta and
correlation, and a per-symbol breakdown.

Quintiles, quantile returns and turnover follow alphalens' definitions (per-date `qcut` into 5
bins, demeaned forward returns averaged over rows, share of a quintile's names new since the
previous date); tests/evaluation/test_tearsheet.py checks them against alphalens-reloaded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tradeformer.evaluation.backtest import run_backtest
from tradeformer.evaluation.baselines import cross_sectional_signal
from tradeformer.stats.newey_west import newey_west_t
from tradeformer.stats.ranking import per_date_rank_ic

QUANTILES = 5
COSTS_BPS = (0.0, 2.0, 5.0, 10.0, 15.0, 20.0)
ROLLING = 63  # dates in the rolling IC mean (a quarter)


@dataclass
class TearSheet:
    horizon: int
    ic: pd.Series  # per-date rank IC at `horizon`
    ic_by_horizon: pd.DataFrame  # horizon -> mean, std, t, n_dates
    ic_by_year: pd.Series
    quantile_returns: pd.DataFrame  # quantile -> mean demeaned forward return (bps), n
    quantile_daily: pd.DataFrame  # date x quantile: mean 1-bar simple return
    turnover: pd.DataFrame  # date x {top, bottom}: share of names new in the quintile
    sharpe_by_cost: pd.Series  # cost bps -> decile long-short net Sharpe
    market: dict = field(default_factory=dict)  # beta, correlation of the long-short
    by_symbol: pd.DataFrame = field(default_factory=pd.DataFrame)


def factor_frame(pred: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The scored rows: timestamp, symbol, factor (the ensemble score at `horizon`), its
    per-date quintile (1 = lowest), the forward returns of every horizon and `next_ret_1`."""
    rets = sorted(c for c in pred.columns if c.startswith("ret_") and c[4:].isdigit())
    cols = ["timestamp", "symbol", *rets, *(["next_ret_1"] if "next_ret_1" in pred else [])]
    d = pred[cols].copy()
    d["factor"] = pred[f"ensemble_ret_{horizon}"].to_numpy()
    d = d[d["factor"].notna()].sort_values(["timestamp", "symbol"], ignore_index=True)
    d["quantile"] = d.groupby("timestamp")["factor"].transform(_qcut)
    return d[d["quantile"].notna()].reset_index(drop=True)


def _qcut(x: pd.Series) -> pd.Series:
    if len(x) < QUANTILES:
        return pd.Series(np.nan, index=x.index)
    return pd.qcut(x, QUANTILES, labels=False, duplicates="drop") + 1.0


def quantile_returns(d: pd.DataFrame, ret: str) -> pd.DataFrame:
    """Mean forward return of each quintile, demeaned by its date's mean (bps), over rows."""
    ok = d[ret].notna()
    x = d.loc[ok, ["timestamp", "quantile", ret]]
    demeaned = x[ret] - x.groupby("timestamp")[ret].transform("mean")
    g = demeaned.groupby(x["quantile"])
    return pd.DataFrame({"mean_bps": g.mean() * 1e4, "n": g.size()})


def quantile_turnover(d: pd.DataFrame, quantile: int) -> pd.Series:
    """Per date: the share of the quintile's names that were not in it on the previous date."""
    member = (d["quantile"] == quantile).to_numpy()
    m = pd.crosstab(d["timestamp"], d["symbol"], values=member, aggfunc="max").fillna(0) > 0
    new = m & ~m.shift(1, fill_value=False)
    out = new.sum(axis=1) / m.sum(axis=1)
    if len(out):
        out.iloc[0] = np.nan  # no previous date
    return out


def ic_decay(d: pd.DataFrame) -> pd.DataFrame:
    """Mean per-date rank IC of the factor against each horizon's forward return."""
    rows = {}
    for col in sorted((c for c in d if c.startswith("ret_")), key=lambda c: int(c[4:])):
        ok = d[col].notna()
        ic = per_date_rank_ic(d.loc[ok, "factor"], d.loc[ok, col], d.loc[ok, "timestamp"])
        h = int(col[4:])
        t = newey_west_t(ic.to_numpy(), lags=h)  # overlapping h-bar labels: HAC, h lags
        rows[h] = {"mean": ic.mean(), "std": ic.std(), "nw_t": t, "n_dates": int(ic.notna().sum())}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("horizon")


def long_short(d: pd.DataFrame, horizon: int) -> tuple[pd.Series, dict, pd.Series]:
    """The top-minus-bottom-decile book (held `horizon` bars, staggered): its net Sharpe at each
    cost, its market beta and correlation (market = the names' equal-weight 1-bar return), and
    its daily net returns at 5 bps."""
    sig = cross_sectional_signal(d["factor"].to_numpy(), d["timestamp"].to_numpy())
    sharpe, daily = {}, None
    for c in COSTS_BPS:
        res = run_backtest(d, sig, holding=horizon, cost_bps=c)
        sharpe[c] = res.stats["sharpe"]
        if c == 5.0:
            daily = res.daily["net"]
    market = np.expm1(d["next_ret_1"]).groupby(d["timestamp"]).mean().reindex(daily.index)
    ok = market.notna() & daily.notna()
    beta = np.cov(daily[ok], market[ok])[0, 1] / market[ok].var()
    corr = float(np.corrcoef(daily[ok], market[ok])[0, 1])
    sharpe_by_cost = pd.Series(sharpe, name="sharpe").rename_axis("cost_bps")
    return sharpe_by_cost, {"beta": float(beta), "correlation": corr}, daily


def by_symbol(d: pd.DataFrame, ret: str) -> pd.DataFrame:
    """Per symbol: rows, time-series rank IC of the factor against `ret`, and the mean
    demeaned forward return (bps) when in the top and in the bottom quintile."""
    ok = d[ret].notna()
    x = d.loc[ok].copy()
    x["demeaned"] = x[ret] - x.groupby("timestamp")[ret].transform("mean")
    ic = per_date_rank_ic(x["factor"].to_numpy(), x[ret].to_numpy(), x["symbol"].to_numpy())
    top = x[x["quantile"] == QUANTILES].groupby("symbol")["demeaned"].mean() * 1e4
    bottom = x[x["quantile"] == 1].groupby("symbol")["demeaned"].mean() * 1e4
    out = pd.DataFrame({"rows": x.groupby("symbol").size(), "ts_rank_ic": ic})
    out["top_quintile_bps"], out["bottom_quintile_bps"] = top, bottom
    return out.sort_values("ts_rank_ic", ascending=False)


def tear_sheet(pred: pd.DataFrame, horizon: int) -> TearSheet:
    """Every table of the tear sheet for the ensemble score at `horizon`."""
    d = factor_frame(pred, horizon)
    ret = f"ret_{horizon}"
    ok = d[ret].notna()
    ic = per_date_rank_ic(d.loc[ok, "factor"], d.loc[ok, ret], d.loc[ok, "timestamp"])
    ic.index = pd.to_datetime(ic.index)
    daily_q = np.expm1(d["next_ret_1"]).groupby([d["timestamp"], d["quantile"]]).mean().unstack()
    turnover = pd.DataFrame(
        {"top": quantile_turnover(d, QUANTILES), "bottom": quantile_turnover(d, 1)}
    )
    sharpe, market, _ = long_short(d, horizon)
    return TearSheet(
        horizon=horizon,
        ic=ic,
        ic_by_horizon=ic_decay(d),
        ic_by_year=ic.groupby(ic.index.year).mean(),
        quantile_returns=quantile_returns(d, ret),
        quantile_daily=daily_q,
        turnover=turnover,
        sharpe_by_cost=sharpe,
        market=market,
        by_symbol=by_symbol(d, ret),
    )
