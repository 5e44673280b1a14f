"""Which boosted-member variant ranks best on the validation folds? (Chosen here, never on
the test period.)

For a run whose `data` stage has run (`tradeformer train --config C --stages data --run-dir R`),
each variant of the `gbm` member is fitted on every walk-forward fold's training rows (early
stopping as configured: by default on the last 250 dates of those rows, so the validation
block stays out of sample) and its validation predictions of all folds are pooled: mean
per-date rank IC against the forward return, with its Newey-West t and block-bootstrap CI, per
horizon, and the fitting time. Writes a CSV and prints a markdown table. The test period is
never read.

Usage: python benchmarks/gbm_variants.py --run R [--variants base,binary,context-only,...]
       [--horizons 3,5] [--seeds 0] [--out gbm_variants.csv]
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


def pooled_oof(u, folds, cfg: GBMConfig, seeds, horizons) -> tuple[dict, float]:
    """{h: ic_summary} of the pooled validation predictions, and the seconds spent fitting."""
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
    out = {}
    for h in horizons:
        j = u.horizons.index(h)
        out[h] = ic_summary(p[:, j], u.ret[r, j], dates, h, n_boot=500)
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a run directory whose data stage has run")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--horizons", default="3,5,10")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="gbm_variants.csv")
    args = ap.parse_args()
    run = Path(args.run)
    cfg = load_run_config(run)
    data = open_prepared(run, cfg)
    u, folds = data.universe, data.calendar.folds
    horizons = [int(h) for h in args.horizons.split(",")]
    seeds = tuple(int(s) for s in args.seeds.split(","))
    rows = []
    for name in args.variants.split(","):
        gcfg = replace(GBMConfig.preset("small", num_threads=args.threads), **VARIANTS[name])
        res, seconds = pooled_oof(u, folds, gcfg, seeds, horizons)
        row = {"variant": name, "minutes": seconds / 60}
        for h, s in res.items():
            lo, hi = s.get("date_rank_ic_ci", (np.nan, np.nan))
            row |= {f"ic_{h}": s["date_rank_ic"], f"t_{h}": s["date_rank_ic_nw_t"]}
            row |= {f"ci_{h}": f"[{lo:+.4f}, {hi:+.4f}]"}
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format="%.4f"), flush=True)
        pd.DataFrame(rows).to_csv(args.out, index=False)
    print(markdown(pd.DataFrame(rows)))


def markdown(frame: pd.DataFrame) -> str:
    """A markdown table (no extra dependency), floats to 4 places."""
    cells = frame.map(lambda v: f"{v:.4f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in cells.to_numpy().tolist()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
