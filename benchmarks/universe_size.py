"""Does breadth raise the out-of-universe rank IC? Train on n names drawn at random from a
config's training names (fixed draws), score the same held-out names each time.

For each n in --sizes and each draw, the config is trained on n of its non-held-out names
(`data.symbols`; by default only the members in --members, without embeddings, so that a
study of several sizes fits on a laptop) and the bundle is scored on the config's held-out
names (`tradeformer evaluate --bundle B --heldout`): per-date rank IC of every member and
the ensemble at each horizon with its Newey-West t and block-bootstrap CI, over the test
period. Writes a CSV and prints markdown.

Usage: python benchmarks/universe_size.py --config configs/us311_cs.yaml
       [--sizes 50,100,200,all] [--draws 0] [--members gbm] [--keep-embeddings]
       [--out universe_size.csv]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.config import load_config
from tradeformer.dataset.holdout import split_holdout
from tradeformer.dataset.prepare import prepare_store
from tradeformer.evaluation.out_of_universe import evaluate_bundle
from tradeformer.stages.pipeline import run_training


def training_names(cfg) -> tuple[list[str], list[str]]:
    """(the names a run of `cfg` may train on, the held-out names)."""
    store, tf = prepare_store(cfg)
    names = cfg.data.symbols or store.symbols(tf)
    return split_holdout(names, cfg.data.holdout_fraction, cfg.data.holdout_seed)


def one_size(args, n_names: int, draw: int, names: list[str], heldout: list[str]) -> list[dict]:
    rng = np.random.default_rng(1000 + draw)
    chosen = sorted(rng.choice(names, n_names, replace=False).tolist())
    over = {"data.symbols": chosen, "data.holdout_fraction": 0.0, "write_dataset_table": False}
    over["runs_dir"] = args.runs_dir
    if not args.keep_embeddings:
        over["embedding.backend"] = "none"
    cfg = load_config(args.config, over)
    members = args.members.split(",")
    models = {m: cfg.models[m] for m in members}
    ens = cfg.ensemble.model_copy(
        update={"weights": {m: 1 / len(members) for m in members}, "average": 0.0}
    )
    cfg = cfg.model_copy(update={"models": models, "ensemble": ens})
    t0 = time.perf_counter()
    summary = run_training(cfg, progress=False)
    minutes = (time.perf_counter() - t0) / 60
    src = [Path(s) for s in cfg.data.sources]
    res = evaluate_bundle(
        summary["bundle"],
        src,
        start=cfg.calendar.test_start,
        end=cfg.calendar.test_end,
        symbols=heldout,
        policy=cfg.data.policy,
        cache_dir=cfg.cache_dir,
        n_boot=500,
        out_dir=Path(summary["run_dir"]) / "out_of_universe",
        progress=False,
    )
    rows = []
    for h, block in res["cross_section"]["by_horizon"].items():
        for name, card in block.items():
            lo, hi = card.get("date_rank_ic_ci", (np.nan, np.nan))
            rows.append(
                {
                    "names": n_names,
                    "draw": draw,
                    "horizon": int(h),
                    "signal": name,
                    "rank_ic": card["date_rank_ic"],
                    "nw_t": card["date_rank_ic_nw_t"],
                    "ci": f"[{lo:+.4f}, {hi:+.4f}]",
                    "train_minutes": minutes,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/us311_cs.yaml")
    ap.add_argument("--sizes", default="50,100,200,all")
    ap.add_argument("--draws", default="0")
    ap.add_argument("--members", default="gbm")
    ap.add_argument("--keep-embeddings", action="store_true")
    ap.add_argument("--runs-dir", default="runs/universe_size")
    ap.add_argument("--out", default="universe_size.csv")
    args = ap.parse_args()
    names, heldout = training_names(load_config(args.config))
    print(f"{len(names)} training names, {len(heldout)} held out", flush=True)
    table = []
    for size in args.sizes.split(","):
        n = len(names) if size == "all" else min(int(size), len(names))
        for draw in (int(d) for d in args.draws.split(",")):
            table += one_size(args, n, draw, names, heldout)
            pd.DataFrame(table).to_csv(args.out, index=False)
            last = pd.DataFrame(table[-len(table) :]).query("signal == 'ensemble'")
            print(last.tail(3).to_string(index=False), flush=True)
    frame = pd.DataFrame(table)
    wide = frame[frame["signal"].isin(["ensemble", "xs_lgbm_full"])]
    print(json.dumps(wide.to_dict(orient="records"), indent=1, default=str))


if __name__ == "__main__":
    main()
