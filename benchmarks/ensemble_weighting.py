"""Which rule should weigh the ensemble's members? Scored on the out-of-fold rows only (the
test period is never read), leave one fold out: each rule's weights come from the other
folds' validation rows and are scored on the held-out fold's, the folds' per-date rank ICs
pooled. Each rule is paired with the shipped rule (`oof_rank_ic` at the ensemble horizon,
applied to every horizon) on the same dates, with a 20-date block-bootstrap CI.

Rules: `shipped`; `per_horizon` (weights from each horizon's own OOF ICs); `equal`;
`icir` (weights proportional to each member's positive per-date IC mean / sd, per horizon);
`significant` (per-horizon IC weights, members whose NW t is under 2 weigh 0; none over 2:
the per-horizon IC weights); `oof_significant` (the library's `ensemble.weighting:
oof_significant`: the same gate at the ensemble horizon, its weights applied to every
horizon); `best` (the member with the highest OOF IC at that horizon alone).

Usage: python benchmarks/ensemble_weighting.py --run R [--out weighting.csv]
(R: a run whose deep stage has run, i.e. that holds oof.parquet).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tradeformer.dataset.cross_section import cs_rank, date_codes
from tradeformer.evaluation.metrics import block_bootstrap_indices, percentile_interval
from tradeformer.stats.newey_west import newey_west_t
from tradeformer.stats.ranking import per_date_rank_ic
from tradeformer.training.weights import significant_weights

RULES = ("shipped", "per_horizon", "equal", "icir", "significant", "oof_significant", "best")


def member_stats(oof: pd.DataFrame, members: list[str], h: int) -> pd.DataFrame:
    """Per member: mean per-date rank IC, its NW t and the ICIR on `oof`'s rows at `h`."""
    out = {}
    for m in members:
        daily = per_date_rank_ic(
            oof[f"{m}_ret_{h}"].to_numpy(), oof[f"ret_{h}"].to_numpy(), oof["timestamp"].to_numpy()
        ).dropna()
        v = daily.to_numpy()
        out[m] = {"ic": v.mean(), "t": newey_west_t(v, h), "icir": v.mean() / v.std()}
    return pd.DataFrame(out).T


def normalise(w: pd.Series) -> pd.Series:
    w = w.clip(lower=0.0).fillna(0.0)
    return w / w.sum() if w.sum() > 0 else pd.Series(1.0 / len(w), index=w.index)


def rule_weights(rule: str, stats: dict[int, pd.DataFrame], h: int, h0: int) -> pd.Series:
    """The members' weights at horizon `h` under `rule` (`h0`: the ensemble horizon)."""
    s = stats[h]
    if rule == "shipped":
        return normalise(stats[h0]["ic"])
    if rule == "per_horizon":
        return normalise(s["ic"])
    if rule == "equal":
        return normalise(pd.Series(1.0, index=s.index))
    if rule == "icir":
        return normalise(s["icir"])
    if rule in ("significant", "oof_significant"):
        at = s if rule == "significant" else stats[h0]
        gate = {m: {"ic": at.loc[m, "ic"], "t": at.loc[m, "t"]} for m in at.index}
        return pd.Series(significant_weights(gate, 2.0))
    if rule == "best":
        return (s["ic"] == s["ic"].max()).astype(float)
    raise ValueError(rule)


def daily_ic(frame: pd.DataFrame, w: pd.Series, h: int) -> pd.Series:
    """Per-date rank IC of the rank-combined ensemble under weights `w`."""
    codes = date_codes(frame["timestamp"].to_numpy())
    score = sum(wi * cs_rank(frame[f"{m}_ret_{h}"].to_numpy(), codes) for m, wi in w.items())
    ret = frame[f"ret_{h}"].to_numpy()
    ok = np.isfinite(ret)
    return per_date_rank_ic(score[ok], ret[ok], frame["timestamp"].to_numpy()[ok]).dropna()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", default="ensemble_weighting.csv")
    args = ap.parse_args()
    run = Path(args.run)
    oof = pd.read_parquet(run / "oof.parquet")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    horizons = [int(h) for h in cfg["features"]["horizons"]]
    h0 = int(cfg.get("ensemble", {}).get("horizon", horizons[0]))
    suffix = f"_ret_{horizons[0]}"
    members = sorted(c.removesuffix(suffix) for c in oof if c.endswith(suffix))
    rows, weights_seen = [], []
    for h in horizons:
        pooled = {r: [] for r in RULES}
        for k in sorted(oof["fold"].unique()):
            train, held = oof[oof["fold"] != k], oof[oof["fold"] == k]
            stats = {hh: member_stats(train, members, hh) for hh in horizons}
            for r in RULES:
                w = rule_weights(r, stats, h, h0)
                weights_seen.append({"h": h, "held_fold": k, "rule": r} | w.round(3).to_dict())
                pooled[r].append(daily_ic(held, w, h))
        series = {r: pd.concat(v) for r, v in pooled.items()}
        idx = block_bootstrap_indices(len(series["shipped"]), 1000, 20, np.random.default_rng(0))
        base = series["shipped"].to_numpy()
        for r in RULES:
            v = series[r].reindex(series["shipped"].index).to_numpy()
            lo, hi = percentile_interval(v[idx].mean(1))
            dlo, dhi = percentile_interval((v - base)[idx].mean(1))
            rows.append(
                {
                    "h": h,
                    "rule": r,
                    "ic": v.mean(),
                    "ci": f"[{lo:+.4f}, {hi:+.4f}]",
                    "t": newey_west_t(v, h),
                    "vs_shipped": v.mean() - base.mean(),
                    "diff_ci": f"[{dlo:+.4f}, {dhi:+.4f}]",
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(args.out, index=False)
    print(pd.DataFrame(weights_seen).to_string(index=False))
    print(table.to_string(index=False, float_format=lambda x: f"{x:+.4f}"))


if __name__ == "__main__":
    main()
