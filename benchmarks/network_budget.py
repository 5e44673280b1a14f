"""Are the networks starved, and what do seeds buy? Learning curves and seed averaging on the
validation folds (the test period is never read).

For a run whose `data` stage has run, one member of its config (a network or the boosted
member) is trained on every walk-forward fold's training rows, as training does (early
stopping / checkpoint choice on the fold's validation block), for each budget (rows per epoch
x epochs) and each seed; its validation predictions of all folds are pooled and scored: mean
per-date rank IC against the forward return with its Newey-West t and block-bootstrap CI,
per horizon. For k = 1..K seeds, the average of the first k seeds' forecasts is scored too
(what `training.seeds: k` trains), with the minutes it cost. Writes a CSV, prints markdown.

Usage: python benchmarks/network_budget.py --run R --member timeformer
       [--budgets 120000x3,allx3] [--seeds 0,1,2,3,4] [--horizons 3,5,10] [--threads 2]
       [--folds 0,1,2] [--set normalization.price_summaries=true] [--out budget.csv]
       [--save DIR] [--against DIR]
--save writes each seed's pooled validation forecasts (DIR/<budget>_seed<s>.npy); --against
DIR pairs this run's average over its seeds with the average of DIR's forecasts of the same
seeds (a variant against the config, same folds and seeds): the difference in per-date rank
IC with a 20-date block-bootstrap CI, per horizon.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.prepare import open_prepared
from tradeformer.dataset.universe import Scaler
from tradeformer.evaluation.cross_section import ic_summary
from tradeformer.evaluation.evaluate import load_run_config
from tradeformer.evaluation.metrics import block_bootstrap_indices, percentile_interval
from tradeformer.stages.deep import fit_member
from tradeformer.stats.ranking import per_date_rank_ic
from tradeformer.training.prediction import predict


def parse_budget(text: str) -> tuple[int | None, int]:
    """`120000x3` -> (120000 rows per epoch, 3 epochs); `allx2` -> every row, 2 epochs."""
    rows, _, epochs = text.strip().partition("x")
    return (None if rows.strip() == "all" else int(rows)), int(epochs or 3)


def fold_predictions(cfg, data, member: str, seed: int, out: Path, folds) -> tuple:
    """The member's validation predictions of the folds (pooled) and per-fold epochs."""
    u = data.universe
    preds, epochs = [], []
    for f in folds:
        tr = u.rows_between(f.train_start, f.train_end)
        va = u.rows_between(f.val_start, f.val_end)
        norm = cfg.normalization
        scaler = Scaler.fit(u, tr, norm.scaler, norm.clip)
        model, hist = fit_member(
            cfg,
            member,
            u,
            (tr, va),
            scaler,
            seed=seed + 1000 * f.index,
            out_dir=out / f"fold{f.index}",
            progress=False,
        )
        preds.append(predict(model, u, va, cfg.training.lookback, scaler)["ret"])
        epochs.append(len(hist))
    return np.concatenate(preds), epochs


def score(u, rows, pred, horizons) -> dict:
    dates, row = u.timestamps[rows], {}
    for h in horizons:
        j = u.horizons.index(h)
        s = ic_summary(pred[:, j], u.ret[rows, j], dates, h, n_boot=500)
        lo, hi = s.get("date_rank_ic_ci", (np.nan, np.nan))
        row |= {f"ic_{h}": s["date_rank_ic"], f"t_{h}": s["date_rank_ic_nw_t"]}
        row |= {f"ci_{h}": f"[{lo:+.4f}, {hi:+.4f}]"}
    return row


def paired(u, rows, ours: np.ndarray, theirs: np.ndarray, horizons) -> pd.DataFrame:
    """Per horizon: our per-date rank IC minus theirs on the same dates, with its CI."""
    dates, out = u.timestamps[rows], []
    for h in horizons:
        j = u.horizons.index(h)
        ok = np.isfinite(u.ret[rows, j])
        ics = [
            per_date_rank_ic(p[ok, j], u.ret[rows, j][ok], dates[ok]).dropna()
            for p in (ours, theirs)
        ]
        a, b = ics[0].align(ics[1], join="inner")
        d = (a - b).to_numpy()
        idx = block_bootstrap_indices(len(d), 1000, 20, np.random.default_rng(0))
        lo, hi = percentile_interval(d[idx].mean(1))
        row = {"h": h, "ours": a.mean(), "theirs": b.mean(), "difference": d.mean()}
        out.append(row | {"ci": f"[{lo:+.4f}, {hi:+.4f}]"})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a run directory whose data stage has run")
    ap.add_argument("--member", default="timeformer")
    ap.add_argument("--budgets", default="", help="comma list of ROWSxEPOCHS (default: config)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--horizons", default="3,5,10")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", default="", help="comma list of fold indices (default: all)")
    ap.add_argument("--set", action="append", default=[], help="config key=value (repeatable)")
    ap.add_argument("--out", default="network_budget.csv")
    ap.add_argument("--save", default="", help="folder for each seed's forecasts (.npy)")
    ap.add_argument("--against", default="", help="a --save folder of the same seeds")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    base = load_run_config(run)
    if args.set:  # e.g. normalization.price_summaries=true (the universe is re-derived)
        raw = base.model_dump(mode="json")
        for item in args.set:
            key, _, value = item.partition("=")
            node = raw
            *parents, last = key.split(".")
            for k in parents:
                node = node[k]
            node[last] = yaml.safe_load(value)
        base = ExperimentConfig(**raw)
    data = open_prepared(run, base)
    u, folds = data.universe, data.calendar.folds
    if args.folds:
        folds = [folds[int(i)] for i in args.folds.split(",")]
    rows = np.concatenate([u.rows_between(f.val_start, f.val_end) for f in folds])
    horizons = [int(h) for h in args.horizons.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    table = []
    for budget in [b for b in args.budgets.split(",") if b.strip()] or ["config"]:
        cfg = base
        if budget != "config":
            per_epoch, epochs = parse_budget(budget)
            choice = base.models[args.member]
            train = dict(choice.training, max_samples_per_epoch=per_epoch, epochs=epochs)
            train |= {"patience": epochs}  # the whole budget; the best epoch is kept
            models = {args.member: choice.model_copy(update={"training": train})}
            cfg = base.model_copy(update={"models": models})
        if args.member == "gbm":
            over = dict(cfg.models["gbm"].overrides, num_threads=args.threads)
            models = {"gbm": cfg.models["gbm"].model_copy(update={"overrides": over})}
            cfg = cfg.model_copy(update={"models": models})
        runs, minutes = [], 0.0
        for i, seed in enumerate(seeds):
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                pred, epochs = fold_predictions(cfg, data, args.member, seed, Path(tmp), folds)
            minutes += (time.perf_counter() - t0) / 60
            runs.append(pred)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                np.save(Path(args.save) / f"{budget}_seed{seed}.npy", pred)
            one = {"member": args.member, "budget": budget, "seeds": f"seed {seed}"}
            one |= {"epochs_kept": str(epochs), "minutes": minutes if i == 0 else np.nan}
            table.append(one | score(u, rows, pred, horizons))
            print(pd.DataFrame([table[-1]]).to_string(index=False), flush=True)
            if i:  # the average of the first k seeds
                avg = {"member": args.member, "budget": budget, "seeds": f"k = {i + 1}"}
                avg |= {"epochs_kept": "", "minutes": minutes}
                table.append(avg | score(u, rows, np.mean(runs, axis=0), horizons))
                print(pd.DataFrame([table[-1]]).to_string(index=False), flush=True)
            pd.DataFrame(table).to_csv(args.out, index=False)
        if args.against:
            theirs = [np.load(next(Path(args.against).glob(f"*_seed{s}.npy"))) for s in seeds]
            diff = paired(u, rows, np.mean(runs, axis=0), np.mean(theirs, axis=0), horizons)
            print(f"{budget}, seeds {seeds} averaged, against {args.against}:")
            print(diff.to_string(index=False), flush=True)
    frame = pd.DataFrame(table)
    cells = frame.map(lambda v: f"{v:.4f}" if isinstance(v, float) else str(v))
    print("| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns))
    for r in cells.to_numpy().tolist():
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
