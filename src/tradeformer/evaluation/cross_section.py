"""Cross-sectional scorecard of a forecast: does it rank the symbols of each date?

Per-date Spearman rank IC against the forward return (the same ranking as against the excess
or ranked return), its mean with a Newey-West t-statistic (the h-bar labels of consecutive
dates overlap, so the daily ICs are autocorrelated: Bartlett kernel, h lags) and a moving-
block bootstrap CI over dates, the ICIR (mean / std of the daily IC), and the top-minus-bottom
decile long-short portfolio (`cross_sectional_signal`, held h bars as staggered sleeves) with
its net Sharpe and CI at the given cost, and its turnover.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.dataset.cross_section import (
    MARKET_COLUMNS,
    above_date_median,
    date_codes,
    market_context,
)
from tradeformer.dataset.summaries import price_summaries
from tradeformer.evaluation.backtest import run_backtest, sharpe_ci
from tradeformer.evaluation.baselines import cross_sectional_signal
from tradeformer.evaluation.metrics import per_date_rank_ic, ratio_ci
from tradeformer.stats.newey_west import newey_west_t


def ic_summary(
    score: np.ndarray,
    realized: np.ndarray,
    dates: np.ndarray,
    horizon: int,
    *,
    n_boot: int = 1000,
    min_names: int = 3,
) -> dict:
    """Mean per-date rank IC, its NW t-statistic and block-bootstrap CI, and the ICIR."""
    m = np.isfinite(score) & np.isfinite(realized)
    daily = per_date_rank_ic(score[m], realized[m], dates[m], min_names=min_names).dropna()
    out = {"n_dates": len(daily)} | daily_mean(daily, horizon, n_boot, "date_rank_ic")
    out["icir"] = float(daily.mean() / daily.std()) if len(daily) > 2 else float("nan")
    out["share_positive"] = float((daily > 0).mean()) if len(daily) else float("nan")
    return out


def daily_mean(daily: pd.Series, horizon: int, n_boot: int, key: str) -> dict:
    """`key`: the mean of a per-date series; `key`_nw_t: its NW t (h lags); `key`_ci: its
    20-date block-bootstrap CI (two dates or more)."""
    v = daily.to_numpy()
    out = {key: float(v.mean()) if len(v) else float("nan")}
    out[f"{key}_nw_t"] = newey_west_t(v, horizon)
    if len(v) > 1 and n_boot > 0:
        out[f"{key}_ci"] = ratio_ci(v, np.ones(len(v)), daily.index, n_boot=n_boot)
    return out


def paired_ic_difference(
    score: np.ndarray,
    other: np.ndarray,
    realized: np.ndarray,
    dates: np.ndarray,
    horizon: int,
    *,
    n_boot: int = 1000,
    min_names: int = 3,
) -> dict:
    """`score`'s per-date rank IC minus `other`'s, on the rows both forecast: the mean daily
    difference, its NW t (h lags) and a 20-date block-bootstrap CI. Paired: each replicate
    resamples the same dates for both, so the market both saw cancels out."""
    m = np.isfinite(score) & np.isfinite(other) & np.isfinite(realized)
    ics = [
        per_date_rank_ic(s[m], realized[m], dates[m], min_names=min_names) for s in (score, other)
    ]
    a, b = ics[0].align(ics[1], join="inner")
    d = (a - b).dropna()
    out = {"n_dates": len(d), "ours": float(a[d.index].mean()), "theirs": float(b[d.index].mean())}
    return out | daily_mean(d, horizon, n_boot, "difference")


def long_short(
    frame: pd.DataFrame,
    score: np.ndarray,
    horizon: int,
    cost_bps: float,
    *,
    q: float = 0.1,
    keep: np.ndarray | None = None,
) -> dict:
    """Top-minus-bottom `q` of each date's scores (among `keep` rows), held `horizon` bars."""
    s = np.asarray(score, float)
    ok = np.isfinite(s) if keep is None else np.isfinite(s) & keep
    sig = np.zeros(len(frame))
    dates = frame["timestamp"].to_numpy()
    if ok.any():
        sig[ok] = cross_sectional_signal(s[ok], dates[ok], q)
    res = run_backtest(frame, sig, holding=horizon, cost_bps=cost_bps)
    st = res.stats
    return {
        "ls_sharpe": st["sharpe"],
        "ls_sharpe_ci": sharpe_ci(res.daily["net"].to_numpy()),
        "ls_sharpe_gross": st["sharpe_gross"],
        "ls_annual_return": st["annual_return"],
        "ls_annual_turnover": st["annual_turnover"],
        "ls_max_drawdown": st["max_drawdown"],
    }


def scorecard(
    frame: pd.DataFrame,
    score: np.ndarray,
    horizon: int,
    cost_bps: float,
    *,
    keep: np.ndarray | None = None,
    n_boot: int = 1000,
) -> dict:
    """`ic_summary` and `long_short` of one forecast on the rows of `frame` (or `keep`)."""
    s = np.asarray(score, float)
    if keep is not None:
        s = np.where(keep, s, np.nan)
    realized = frame[f"ret_{horizon}"].to_numpy()
    dates = frame["timestamp"].to_numpy()
    out = ic_summary(s, realized, dates, horizon, n_boot=n_boot)
    out.update(long_short(frame, s, horizon, cost_bps))
    return out


def veto_versus_random(
    side_right: np.ndarray,
    above_median: np.ndarray,
    kept: np.ndarray,
    dates: np.ndarray,
    *,
    n_random: int = 50,
    seed: int = 0,
) -> dict:
    """The veto as meta-labelling: the ensemble's side accuracy on the rows it keeps, next to
    the base rate of those rows (their share above the date's median) and a random veto that
    keeps the same share of rows (mean and 2.5-97.5 % range over `n_random` draws)."""
    lab = np.isfinite(above_median)
    k = kept & lab
    n_keep = int(k.sum())
    out = {"coverage": float(n_keep / max(lab.sum(), 1)), "n_kept": n_keep}
    if not n_keep:
        return out
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(lab)
    rand = np.array(
        [side_right[rng.choice(idx, n_keep, replace=False)].mean() for _ in range(n_random)]
    )
    out.update(
        accuracy_kept=float(side_right[k].mean()),
        accuracy_kept_ci=ratio_ci(side_right[k], np.ones(n_keep), dates[k]),
        base_rate_kept=float(above_median[k].mean()),
        accuracy_all=float(side_right[lab].mean()),
        random_veto_accuracy=float(rand.mean()),
        random_veto_range=(float(np.quantile(rand, 0.025)), float(np.quantile(rand, 0.975))),
    )
    return out


XS_NAMES = {  # display names of the scored signals besides the members' own titles
    "ensemble": "Ensemble",
    "ensemble_veto_kept": "Ensemble, veto-kept rows",
    "classical_lgbm_xs": "LightGBM xs (context columns)",
    "xs_lgbm_full": "LightGBM xs (context + market + price-window summaries)",
}
BASELINES = ("classical_lgbm_xs", "xs_lgbm_full")  # what the ensemble is paired against


def baseline_features(u) -> tuple[np.ndarray, list[str]]:
    """What the networks see, as columns a tabular model can use: the (normalised) context
    columns, the market context, and summaries of the price window with their ranks."""
    summaries, names = price_summaries(u)
    parts, all_names = [u.context, summaries], [*u.context_names, *names]
    if MARKET_COLUMNS[0] not in u.context_names:
        parts.append(market_context(u, date_codes(u.timestamps)))
        all_names += list(MARKET_COLUMNS)
    return np.concatenate(parts, axis=1).astype("float32"), all_names


def evaluate_cross_section(
    frame: pd.DataFrame,
    scores: dict[str, dict[str, np.ndarray]],
    kept: np.ndarray,
    horizon: int,
    cost_bps: float,
    n_boot: int,
) -> dict:
    """{h: {forecast: scorecard}} for every horizon's scores on the test rows, plus the
    ensemble on the veto-kept rows at the veto's horizon, the ensemble minus each cross-
    sectional LightGBM baseline (paired, same rows), and the veto against a random one."""
    out: dict = {}
    dates = frame["timestamp"].to_numpy()
    vs = {
        str(h): {
            b: paired_ic_difference(
                np.asarray(by_name["ensemble"], float),
                np.asarray(by_name[b], float),
                frame[f"ret_{int(h)}"].to_numpy(),
                dates,
                int(h),
                n_boot=n_boot,
            )
            for b in BASELINES
            if b in by_name and "ensemble" in by_name
        }
        for h, by_name in scores.items()
    }
    for h, by_name in scores.items():
        block = {
            name: scorecard(frame, s, int(h), cost_bps, n_boot=n_boot)
            for name, s in by_name.items()
        }
        if int(h) == horizon:
            block["ensemble_veto_kept"] = scorecard(
                frame, by_name["ensemble"], horizon, cost_bps, keep=kept, n_boot=n_boot
            )
        out[str(h)] = block
    above = above_date_median(frame[f"ret_{horizon}"].to_numpy(), date_codes(dates))
    ens = scores[str(horizon)]["ensemble"]
    side_right = ((ens > 0) == (above > 0.5)).astype(float)
    veto = veto_versus_random(side_right, above, kept, dates)
    return {"by_horizon": out, "ensemble_vs_baselines": vs, "veto": veto, "names": XS_NAMES}
