"""The factor tear sheet's figures and tables for the report (`evaluation/tearsheet.py`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tradeformer.evaluation.tearsheet import QUANTILES, ROLLING, TearSheet, tear_sheet

Table = tuple[list[str], list[list[str]]]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_ic(ts: TearSheet, path: Path) -> Path:
    """Per-date rank IC over time with its rolling mean, by year, and its distribution."""
    fig = plt.figure(figsize=(12, 6.5))
    ax = fig.add_subplot(2, 1, 1)
    ax.plot(ts.ic.index, ts.ic.to_numpy(), color="#1f77b4", lw=0.4, alpha=0.35, label="per date")
    roll = ts.ic.rolling(ROLLING, min_periods=ROLLING // 2).mean()
    ax.plot(roll.index, roll.to_numpy(), color="#d62728", lw=1.5, label=f"{ROLLING}-date mean")
    ax.axhline(ts.ic.mean(), color="black", ls="--", lw=0.8, label=f"mean {ts.ic.mean():+.4f}")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title(f"Per-date rank IC of the ensemble score, {ts.horizon}-bar forward return")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    ax2 = fig.add_subplot(2, 2, 3)
    years = ts.ic_by_year
    ax2.bar(
        [str(y) for y in years.index],
        years.to_numpy(),
        color=np.where(years > 0, "#2ca02c", "#d62728"),
    )
    ax2.axhline(0, color="black", lw=0.6)
    ax2.set_title("mean per-date rank IC by year")
    ax2.grid(axis="y", alpha=0.3)
    ax3 = fig.add_subplot(2, 2, 4)
    ax3.hist(ts.ic.dropna().to_numpy(), bins=50, color="#9467bd", alpha=0.8)
    ax3.axvline(ts.ic.mean(), color="black", ls="--", lw=0.8)
    ax3.set_title("distribution of per-date rank IC")
    ax3.set_xlabel("rank IC")
    return _save(fig, path)


def plot_quantiles(ts: TearSheet, path: Path) -> Path:
    """Mean demeaned forward return by quintile, and each quintile's cumulative return."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    q = ts.quantile_returns
    ax.bar([f"Q{int(i)}" for i in q.index], q["mean_bps"], color="#1f77b4")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel(f"mean {ts.horizon}-bar return minus the date's mean (bps)")
    ax.set_title("forward return by score quintile (Q1 lowest)")
    ax.grid(axis="y", alpha=0.3)
    cum = (1 + ts.quantile_daily.fillna(0)).cumprod()
    colors = plt.cm.RdYlGn(np.linspace(0.1, 0.9, QUANTILES))
    for col, c in zip(cum.columns, colors, strict=False):
        ax2.plot(
            pd.to_datetime(cum.index), cum[col].to_numpy(), color=c, lw=1.2, label=f"Q{int(col)}"
        )
    ax2.set_yscale("log")
    ax2.set_title("cumulative 1-bar return of each quintile (equal weight, gross)")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    return _save(fig, path)


def plot_costs_decay_turnover(ts: TearSheet, path: Path) -> Path:
    """Net Sharpe of the decile long-short against cost, IC decay, quintile turnover."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    s = ts.sharpe_by_cost
    axes[0].plot(s.index, s.to_numpy(), "o-", color="#1f77b4")
    axes[0].axhline(0, color="black", lw=0.6)
    axes[0].set_xlabel("cost per side (bps)")
    axes[0].set_title("decile long-short net Sharpe vs cost")
    d = ts.ic_by_horizon
    axes[1].bar([f"{h} bars" for h in d.index], d["mean"], color="#2ca02c")
    axes[1].set_title("IC decay: mean per-date rank IC by horizon")
    roll = ts.turnover.rolling(ROLLING, min_periods=5).mean()
    for col, c in (("top", "#2ca02c"), ("bottom", "#d62728")):
        axes[2].plot(
            pd.to_datetime(roll.index), roll[col].to_numpy(), color=c, label=f"{col} quintile"
        )
    axes[2].set_title(f"quintile turnover per date ({ROLLING}-date mean)")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    return _save(fig, path)


def tables(ts: TearSheet, top: int = 10) -> list[tuple[str, Table]]:
    """IC decay with Newey-West t, quintile returns, Sharpe vs cost and market exposure, and
    the symbols where the score ranked best and worst over time."""
    decay = ["horizon", "mean per-date rank IC", "std", "NW t", "dates"]
    rows = [
        [
            f"{h} bars",
            f"{r['mean']:+.4f}",
            f"{r['std']:.3f}",
            f"{r['nw_t']:.2f}",
            f"{int(r['n_dates']):,}",
        ]
        for h, r in ts.ic_by_horizon.iterrows()
    ]
    q = [
        [f"Q{int(i)}", f"{r['mean_bps']:+.1f}", f"{int(r['n']):,}"]
        for i, r in ts.quantile_returns.iterrows()
    ]
    cost = [[f"{c:g}", f"{v:.2f}"] for c, v in ts.sharpe_by_cost.items()]
    cost += [
        ["beta to the market", f"{ts.market['beta']:+.3f}"],
        ["correlation with the market", f"{ts.market['correlation']:+.3f}"],
    ]
    sym_head = [
        "symbol",
        "rows",
        "time-series rank IC",
        "top quintile (bps)",
        "bottom quintile (bps)",
    ]
    bs = ts.by_symbol.dropna(subset=["ts_rank_ic"])
    pick = pd.concat([bs.head(top), bs.tail(top)])
    syms = [
        [
            s,
            f"{int(r['rows']):,}",
            f"{r['ts_rank_ic']:+.3f}",
            _bps(r["top_quintile_bps"]),
            _bps(r["bottom_quintile_bps"]),
        ]
        for s, r in pick.iterrows()
    ]
    h = ts.horizon
    return [
        ("Factor tear sheet: IC decay over horizons", (decay, rows)),
        (
            f"Factor tear sheet: {h}-bar return by score quintile (demeaned)",
            (["quintile", "mean (bps)", "rows"], q),
        ),
        (
            "Factor tear sheet: decile long-short net Sharpe by cost, market exposure (5 bps)",
            (["cost per side (bps) / measure", "value"], cost),
        ),
        (f"Factor tear sheet: the {top} symbols ranked best and worst over time", (sym_head, syms)),
    ]


def _bps(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:+.1f}"


def tear_sheet_section(pred: pd.DataFrame, horizon: int, out: Path):
    """(tables, figures) of the tear sheet for the report, or ([], []) when the predictions
    lack what it needs (an ensemble score, forward returns, the next bar's return)."""
    need = {f"ensemble_ret_{horizon}", f"ret_{horizon}", "next_ret_1"}
    if not need <= set(pred.columns) or pred["timestamp"].nunique() < 2 * ROLLING:
        return [], []
    if pred.groupby("timestamp")["symbol"].nunique().median() < 2 * QUANTILES:
        return [], []  # quintiles need a cross-section (the bundled 3-series demo has none)
    ts = tear_sheet(pred, horizon)
    figs = [
        ("Factor tear sheet: per-date rank IC", plot_ic(ts, out / "tearsheet_ic.png")),
        ("Factor tear sheet: quintiles", plot_quantiles(ts, out / "tearsheet_quantiles.png")),
        (
            "Factor tear sheet: costs, IC decay, turnover",
            plot_costs_decay_turnover(ts, out / "tearsheet_costs.png"),
        ),
    ]
    return tables(ts), figs
