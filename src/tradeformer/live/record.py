"""The live record of a ledger: per horizon, the per-date rank IC of the issued scores
against what happened (with its block-bootstrap CI), the hit rate of the issued sides next
to the majority rate of the same rows, and a paper long-short (top minus bottom decile of
each signal date, held h bars, charged `cost_bps` per side on both legs): its net equity,
Sharpe (with CI) and drawdown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.evaluation.backtest import sharpe, sharpe_ci
from tradeformer.evaluation.baselines import cross_sectional_signal
from tradeformer.evaluation.cross_section import ic_summary


def scored(ledger_rows: pd.DataFrame, bundle_id: str | None = None) -> pd.DataFrame:
    """The signals with an outcome (of one bundle when given), dates parsed."""
    rows = ledger_rows[ledger_rows["realized_return"].notna()]
    if bundle_id is not None:
        rows = rows[rows["bundle_id"] == bundle_id]
    return rows.assign(date=pd.to_datetime(rows["as_of"]))


def hit_rate(rows: pd.DataFrame) -> dict:
    """Sides taken (BUY / SELL) against the outcome's side. A cross-sectional score's side
    is relative to the date's median outcome; the majority rate is the share of the more
    frequent outcome side on the same rows (what always betting it would score)."""
    taken = rows[rows["action"] != "HOLD"]
    if taken.empty:
        return {"n_taken": 0, "hit_rate": float("nan"), "majority_rate": float("nan")}
    outcome = taken["realized_return"]
    if (taken["score_kind"] == "cs_rank").all():
        median = rows.groupby("date")["realized_return"].median()
        outcome = outcome - taken["date"].map(median)
    up = (outcome > 0).to_numpy()
    buy = (taken["action"] == "BUY").to_numpy()
    return {
        "n_taken": len(taken),
        "hit_rate": float((buy == up).mean()),
        "majority_rate": float(max(up.mean(), 1 - up.mean())),
    }


def paper_long_short(rows: pd.DataFrame, horizon: int, cost_bps: float) -> pd.DataFrame:
    """Per signal date: the top-minus-bottom decile's return over the horizon, net of costs.
    When signal dates are closer than the horizon the books overlap: each is then 1/h of
    the capital (h sleeves), so the equity never counts a dollar twice."""
    side = cross_sectional_signal(rows["score"].to_numpy(float), rows["date"].to_numpy())
    simple = np.expm1(rows["realized_return"].to_numpy(float))  # log returns -> simple
    frame = pd.DataFrame({"date": rows["date"].to_numpy(), "side": side, "r": simple})
    legs = frame[frame["side"] != 0].groupby(["date", "side"])["r"].mean().unstack("side")
    legs = legs.reindex(columns=[-1.0, 1.0])
    gross = (legs[1.0] - legs[-1.0]).dropna()
    cost = 4 * cost_bps / 1e4  # open and close, long and short leg
    out = pd.DataFrame({"gross": gross, "net": gross - cost})
    ends = rows.groupby("date")["realized_at"].max().reindex(out.index)
    overlap = (pd.to_datetime(ends.iloc[:-1]).to_numpy() > out.index[1:].to_numpy()).any()
    if overlap:
        out[["gross", "net"]] /= horizon
    out["equity"] = (1 + out["net"]).cumprod()
    out["drawdown"] = out["equity"] / out["equity"].cummax() - 1
    return out


def periods_per_year(dates: pd.DatetimeIndex) -> float:
    """Signal dates per year, from their median calendar spacing (252 for daily signals)."""
    if len(dates) < 2:
        return float("nan")
    gap = np.median(np.diff(dates.values).astype("m8[D]").astype(float))
    return 252.0 if gap <= 1.5 else 365.25 / gap  # daily: trading days; else by calendar


def live_record(rows: pd.DataFrame, horizon: int, cost_bps: float, n_boot: int = 1000) -> dict:
    """The record of one horizon's scored signals."""
    r = rows[rows["horizon"] == horizon]
    if r.empty:
        return {"horizon": horizon, "n_signals": 0}
    ic = ic_summary(
        r["score"].to_numpy(float),
        r["realized_return"].to_numpy(float),
        r["date"].to_numpy(),
        horizon,
        n_boot=n_boot,
    )
    book = paper_long_short(r, horizon, cost_bps)
    ppy = periods_per_year(pd.DatetimeIndex(book.index))
    net = book["net"].to_numpy()
    return {
        "horizon": horizon,
        "n_signals": len(r),
        "n_symbols": int(r["symbol"].nunique()),
        "first": str(r["date"].min().date()),
        "last": str(r["date"].max().date()),
        **ic,
        **hit_rate(r),
        "ls_periods_per_year": ppy,
        "ls_sharpe": sharpe(net, ppy) if np.isfinite(ppy) else float("nan"),
        "ls_sharpe_ci": sharpe_ci(net, periods_per_year=ppy, block=min(20, max(1, len(net) // 5)))
        if np.isfinite(ppy)
        else (float("nan"), float("nan")),
        "ls_total_return": float(book["equity"].iloc[-1] - 1) if len(book) else float("nan"),
        "ls_max_drawdown": float(book["drawdown"].min()) if len(book) else float("nan"),
        "book": book,
    }
