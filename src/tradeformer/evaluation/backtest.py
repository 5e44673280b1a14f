"""Vectorised daily backtest: per-bar signals -> overlapping sleeves -> portfolio returns.

Conventions (stated, because every Sharpe depends on them):
- A signal s in {-1, 0, +1} on bar t is decided with data up to the close of t and opens a
  position at that close, held for `holding` bars (to the close of t + holding).
- Overlapping positions are handled as staggered sleeves (Jegadeesh-Titman): each bar opens one
  sleeve of 1/holding of the symbol's capital, so the symbol's position over (t, t+1] is
  the mean of the last `holding` signals, in [-1, 1]. A signal every bar is fully invested.
- The portfolio holds every symbol with weight 1/N_t (N_t = symbols with a bar on date t), so
  gross exposure is at most 1; daily return = sum_s w * position * simple return of (t, t+1].
- Costs: `cost_bps` per unit of traded notional (each side), charged on |position change|.
- Sharpe: mean / std of daily net returns x sqrt(periods_per_year) (252 for daily bars), zero
  risk-free rate. Max drawdown on the compounded equity curve.
- Per trade: each non-zero signal is one trade of `holding` bars; its net return is
  s * (exp(ret_h) - 1) - 2 * cost (round trip). Win rate = share of trades with net return > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradeformer.evaluation.metrics import block_bootstrap_indices, percentile_interval


@dataclass
class BacktestResult:
    daily: pd.DataFrame  # date-indexed: gross, cost, net, equity, drawdown, exposure, turnover
    trades: pd.DataFrame  # per trade: symbol, timestamp, side, gross, net
    stats: dict


def _pivot(frame: pd.DataFrame, col: str, fill: float) -> pd.DataFrame:
    return frame.pivot(index="timestamp", columns="symbol", values=col).sort_index().fillna(fill)


def run_backtest(
    frame: pd.DataFrame,
    signal: np.ndarray,
    *,
    holding: int,
    ret_col: str | None = None,
    cost_bps: float = 5.0,
    long_only: bool = False,
    periods_per_year: float = 252.0,
) -> BacktestResult:
    """Backtest `signal` (one value per row of `frame`: -1, 0 or +1).

    frame needs `symbol`, `timestamp`, `next_ret_1` (log return close t -> close t+1) and,
    for per-trade statistics, `ret_col` (log return over `holding` bars; default ret_{holding}).
    """
    if holding < 1:
        raise ValueError(f"holding must be >= 1 bar, got {holding}")
    sig = np.asarray(signal, dtype="float64")
    if sig.shape != (len(frame),):
        raise ValueError(f"signal has shape {sig.shape}, frame has {len(frame)} rows")
    if not np.isin(sig, (-1.0, 0.0, 1.0)).all():
        raise ValueError("signal values must be -1, 0 or +1")
    if long_only:
        sig = np.maximum(sig, 0.0)
    df = frame[["symbol", "timestamp", "next_ret_1"]].copy()
    df["sig"] = sig
    df["present"] = 1.0
    df["r1"] = np.expm1(df["next_ret_1"].to_numpy())
    S = _pivot(df, "sig", 0.0).to_numpy()
    present = _pivot(df, "present", 0.0).to_numpy()
    R = _pivot(df, "r1", 0.0).to_numpy()  # NaN at a symbol's last bar: earns nothing
    dates = _pivot(df, "sig", 0.0).index
    # position over (t, t+1]: mean of the last `holding` signals (a rolling sum via cumsum)
    c = np.cumsum(S, axis=0)
    lagged = np.zeros_like(c)
    lagged[holding:] = c[:-holding]
    pos = (c - lagged) / holding
    n_t = np.maximum(present.sum(axis=1), 1.0)
    w = present / n_t[:, None]
    prev = np.vstack([np.zeros((1, pos.shape[1])), pos[:-1]])
    turnover = (np.abs(pos - prev) * w).sum(axis=1)
    gross = (pos * R * w).sum(axis=1)
    cost = turnover * cost_bps / 1e4
    net = gross - cost
    equity = np.cumprod(1.0 + net)
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    daily = pd.DataFrame(
        {
            "gross": gross,
            "cost": cost,
            "net": net,
            "equity": equity,
            "drawdown": drawdown,
            "exposure": (np.abs(pos) * w).sum(axis=1),
            "turnover": turnover,
        },
        index=dates,
    )
    trades = _trades(frame, sig, holding, ret_col or f"ret_{holding}", cost_bps)
    stats = _stats(daily, trades, sig, periods_per_year)
    return BacktestResult(daily, trades, stats)


def _trades(frame, sig, holding, ret_col, cost_bps) -> pd.DataFrame:
    on = sig != 0
    r = frame[ret_col].to_numpy() if ret_col in frame.columns else np.full(len(frame), np.nan)
    gross = sig * np.expm1(r)
    t = pd.DataFrame(
        {
            "symbol": frame["symbol"].to_numpy()[on],
            "timestamp": frame["timestamp"].to_numpy()[on],
            "side": sig[on],
            "gross": gross[on],
            "net": gross[on] - 2 * cost_bps / 1e4,
        }
    )
    return t[np.isfinite(t["gross"].to_numpy())].reset_index(drop=True)


def sharpe(net: np.ndarray, periods_per_year: float = 252.0) -> float:
    sd = np.std(net, ddof=1) if len(net) > 1 else 0.0
    return float(np.mean(net) / sd * np.sqrt(periods_per_year)) if sd > 0 else float("nan")


def sharpe_ci(
    net: np.ndarray,
    *,
    n_boot: int = 1000,
    block: int = 20,
    seed: int = 0,
    periods_per_year: float = 252.0,
) -> tuple[float, float]:
    """95 % moving-block bootstrap interval of the annualised Sharpe of a daily series."""
    net = np.asarray(net, float)
    if len(net) < 3:
        return (float("nan"), float("nan"))
    idx = block_bootstrap_indices(len(net), n_boot, block, np.random.default_rng(seed))
    x = net[idx]
    sd = x.std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = x.mean(axis=1) / sd * np.sqrt(periods_per_year)
    return percentile_interval(np.where(sd > 0, s, np.nan))


def _stats(daily: pd.DataFrame, trades: pd.DataFrame, sig, periods_per_year) -> dict:
    net = daily["net"].to_numpy()
    years = len(net) / periods_per_year
    total = float(daily["equity"].iloc[-1] - 1.0) if len(net) else np.nan
    return {
        "sharpe": sharpe(net, periods_per_year),
        "sharpe_gross": sharpe(daily["gross"].to_numpy(), periods_per_year),
        "annual_return": float((1 + total) ** (1 / years) - 1) if years > 0 else np.nan,
        "annual_vol": float(np.std(net, ddof=1) * np.sqrt(periods_per_year)),
        "total_return": total,
        "max_drawdown": float(daily["drawdown"].min()),
        "n_trades": len(trades),
        "win_rate": float((trades["net"] > 0).mean()) if len(trades) else np.nan,
        "avg_trade_return": float(trades["net"].mean()) if len(trades) else np.nan,
        "coverage": float(np.mean(sig != 0)),
        "avg_exposure": float(daily["exposure"].mean()),
        "annual_turnover": float(daily["turnover"].mean() * periods_per_year),
        "n_days": len(net),
    }
