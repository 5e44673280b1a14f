"""Which boosted-member variant ranks best on the validation folds? (Chosen here, never on
the test period.)

For a run whose `data` stage has run (`tradeformer train --config C --stages data --run-dir R`),
each variant of the `gbm` member is fitted on every walk-forward fold's training rows (early
stopping as configured: by default on the last 250 dates of those rows, so the validation
block stays out of sample) and its validation predictions of all folds are pooled: mean
per-date rank IC against the forward return, with its Newey-West t and block-bootstrap CI, per
horizon, and the fitting time. Every variant after the first is also read against the first
on the same dates: the mean of the per-date IC differences with its block-bootstrap CI (paired).
`--seeds 0,1` averages seeds inside one fit; `--seed-runs 0,1,2` fits each seed on its own
(a row per variant and seed; the paired difference is then also given over all seeds, the
per-date differences averaged across them). Writes a CSV and prints a markdown table. The test
period is never read.

Usage: python benchmarks/gbm_variants.py --run R [--variants base,binary,context-only,...]
       [--horizons 3,5] [--seeds 0 | --seed-runs 0,1,2] [--out gbm_variants.csv]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.dataset.prepare import open_prepared
from tradeformer.evaluation.cross_section import ic_summary
from tradeformer.evaluation.evaluate import load_run_config
from tradeformer.evaluation.metrics import per_date_rank_ic, ratio_ci
from tradeformer.models.gbm import GBMConfig, GBMRanker

VARIANTS: dict[str, dict] = {
    "base": {},
    "stop-on-validation": {"stop_on": "validation"},
    "binary": {"objective": "binary"},
    "lambdarank": {"objective": "lambdarank"},
    "huber": {"objective": "huber"},
    "lr0.02-patience150": {
        "learning_rate": 0.02,
        "early_stopping_rounds": 150,
        "num_boost_round": 1500,
    },
    "no-stop-300-rounds": {"early_stopping_rounds": 0, "num_boost_round": 300},
    "no-stop-100-rounds": {"early_stopping_rounds": 0, "num_boost_round": 100},
    "leaves15-minleaf5000": {"num_leaves": 15, "min_data_in_leaf": 5000},
    "leaves63-minleaf500": {"num_leaves": 63, "min_data_in_leaf": 500},
    "context-only": {"inputs": "context"},
    "summaries-only": {"inputs": "summaries"},
}


def pooled_oof(u, folds, cfg: GBMConfig, seeds, horizons) -> tuple[dict, dict, float]:
    """{h: ic_summary} of the pooled validation predictions, {h: per-date IC series}, and the
    seconds spent fitting."""
    preds, rows, t0 = [], [], time.perf_counter()
    for f in folds:
        tr = u.rows_between(f.train_start, f.train_end)
        va = u.rows_between(f.val_start, f.val_end)
        model = GBMRanker(cfg)
        model.fit(u, tr, va, seeds=seeds)
        preds.append(model.predict_rows(u, va)["ret"])
        rows.append(va)
    seconds = time.perf_counter() - t0
    p, r = np.concatenate(preds), np.concatenate(rows)
    dates = u.timestamps[r]
    out, daily = {}, {}
    for h in horizons:
        j = u.horizons.index(h)
        out[h] = ic_summary(p[:, j], u.ret[r, j], dates, h, n_boot=500)
        ok = np.isfinite(p[:, j]) & np.isfinite(u.ret[r, j])
        daily[h] = per_date_rank_ic(p[ok, j], u.ret[r, j][ok], dates[ok], min_names=3).dropna()
    return out, daily, seconds


def paired(daily: pd.Series, ref: pd.Series) -> tuple[float, float, float]:
    """Mean per-date IC difference on the shared dates and its block-bootstrap 95 % CI."""
    d = (daily - ref).dropna()
    lo, hi = ratio_ci(d.to_numpy(), np.ones(len(d)), d.index.to_numpy(), n_boot=1000)
    return float(d.mean()), lo, hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a run directory whose data stage has run")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--horizons", default="3,5,10")
    ap.add_argument("--seeds", default="0", help="seeds averaged inside one fit")
    ap.add_argument("--seed-runs", default="", help="seeds fitted one by one: 0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="gbm_variants.csv")
    args = ap.parse_args()
    run = Path(args.run)
    cfg = load_run_config(run)
    data = open_prepared(run, cfg)
    u, folds = data.universe, data.calendar.folds
    horizons = [int(h) for h in args.horizons.split(",")]
    seeds = tuple(int(s) for s in args.seeds.split(","))
    runs = [(int(s),) for s in args.seed_runs.split(",")] if args.seed_runs else [seeds]
    rows, daily = [], {}  # daily[(variant, seeds)][h]: per-date IC series
    names = args.variants.split(",")
    for name in names:
        gcfg = replace(GBMConfig.preset("small", num_threads=args.threads), **VARIANTS[name])
        for run_seeds in runs:
            res, daily[name, run_seeds], seconds = pooled_oof(u, folds, gcfg, run_seeds, horizons)
            row = {"variant": name, "seeds": ",".join(map(str, run_seeds)), "minutes": seconds / 60}
            for h, s in res.items():
                lo, hi = s.get("date_rank_ic_ci", (np.nan, np.nan))
                row |= {f"ic_{h}": s["date_rank_ic"], f"t_{h}": s["date_rank_ic_nw_t"]}
                row |= {f"ci_{h}": f"[{lo:+.4f}, {hi:+.4f}]"}
                if name != names[0]:
                    row |= _diff_cells(h, daily[name, run_seeds][h], daily[names[0], run_seeds][h])
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, float_format="%.4f"), flush=True)
            pd.DataFrame(rows).to_csv(args.out, index=False)
        if name != names[0] and len(runs) > 1:  # over all seeds: per-date differences averaged
            row = {"variant": name, "seeds": f"all {len(runs)}"}
            for h in horizons:
                row |= _diff_cells(h, _seed_mean(daily, name, runs, h),
                                   _seed_mean(daily, names[0], runs, h))  # fmt: skip
            rows.append(row)
            pd.DataFrame(rows).to_csv(args.out, index=False)
    print(markdown(pd.DataFrame(rows)))


def _seed_mean(daily: dict, name: str, runs: list, h: int) -> pd.Series:
    """Per-date IC of a variant averaged over its seed runs."""
    return pd.concat([daily[name, r][h] for r in runs], axis=1).mean(axis=1)


def _diff_cells(h: int, daily: pd.Series, ref: pd.Series) -> dict:
    d, lo, hi = paired(daily, ref)
    return {f"diff_{h}": d, f"diff_ci_{h}": f"[{lo:+.4f}, {hi:+.4f}]"}


def markdown(frame: pd.DataFrame) -> str:
    """A markdown table (no extra dependency), floats to 4 places."""

    def cell(v) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:.4f}"
        return "" if v is None else str(v)

    cells = frame.map(cell)
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in cells.to_numpy().tolist()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
