"""Benchmark: the full ensemble per symbol and for a universe in one batch, from raw bars and
from a store. The foundation embedding is timed separately (its cost depends on the backend).

Two ways in:
- raw bars (`predict_bars`, what POST /v1/predict does): the request holds `min_bars` bars
  (warm-up + lookback) and is validated first, as `tradeformer data` would;
- a store (`predict_store`, GET /v1/predict/{symbol}): the symbol's whole history is read, so the
  EMA-based columns equal the training features exactly (a short tail would not). "cold": the
  predictor's caches are cleared before every call (Parquet read + features of the whole
  history); "warm": the store did not change since the last call, so the bars and their feature
  rows come from memory and only the networks and the veto run.

Stages: read (store), validation (raw), features, embedding, nets + veto (both networks, the
LightGBM veto and the decision). "features + nets + veto" is the issue's latency definition;
"request excl. embedding" adds validation / reading.

References in the same run (ratios, not absolute times): batch vs the per-symbol loop over the
same symbols, and the share of batch time spent inside the two networks' forward passes
(measured alone on the same windows). The spec's 50-100 ms per prediction is *on a GPU*:
context only.

Usage: python benchmarks/inference.py --bundle runs/<id>/bundle --data STORE
       [--reps 300] [--batch-reps 15] [--json out.json]
(e.g. the bundle of `tradeformer train --config configs/daily100.yaml` and its cached store).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from tradeformer.data import BarStore
from tradeformer.inference import Predictor

STAGES = ("read", "validation", "features", "embedding", "models_and_veto", "total")
LABELS = {"models_and_veto": "nets + veto"}


def _derived(parts: dict[str, list[float]]) -> dict[str, np.ndarray]:
    out = {k: np.asarray(v) for k, v in parts.items() if v}
    out["features + nets + veto"] = out["features"] + out["models_and_veto"]
    out["request excl. embedding"] = out["total"] - out["embedding"]
    return out


def _table(title: str, parts: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    print(f"{title:<40}{'p50':>8}{'p99':>8}")
    summary = {}
    for k, v in parts.items():
        p50, p99 = float(np.percentile(v, 50)), float(np.percentile(v, 99))
        summary[k] = {"p50_ms": p50, "p99_ms": p99}
        print(f"  {LABELS.get(k, k):<38}{p50:>8.2f}{p99:>8.2f}")
    return summary


def per_symbol(pred: Predictor, way: str, bars: dict, store: str, reps: int) -> dict:
    syms = list(bars)
    parts: dict[str, list[float]] = {k: [] for k in STAGES}
    if way == "store warm":
        pred.predict_store(store)  # every symbol seen once: the calls below hit the caches
    for i in range(reps):
        s = syms[i % len(syms)]
        if way == "raw":
            pred.predict_bars({s: bars[s]})
        else:
            if way == "store cold":
                pred.clear_cache()
            pred.predict_store(store, [s])
        for k in STAGES:
            if k in pred.last_timing:
                parts[k].append(pred.last_timing[k] * 1000)
    n = pred.min_bars if way == "raw" else "all"
    return _table(f"per symbol, {way} ({n} bars), ms", _derived(parts))


def _call(pred: Predictor, way: str, bars: dict, store: str):
    if way == "raw":
        return pred.predict_bars(bars)
    if way == "store cold":
        pred.clear_cache()
    return pred.predict_store(store)


def batch(pred: Predictor, way: str, bars: dict, store: str, reps: int) -> dict:
    walls, parts = [], {k: [] for k in STAGES}
    for i in range(reps + 2):  # the first two warm caches and allocators
        t0 = time.perf_counter()
        out = _call(pred, way, bars, store)
        if i >= 2:
            walls.append((time.perf_counter() - t0) * 1000)
            for k in STAGES:
                if k in pred.last_timing:
                    parts[k].append(pred.last_timing[k] * 1000)
    d = _derived(parts)
    wall = float(np.median(walls))
    emb = float(np.median(d["embedding"]))
    n = len(out)
    res = {
        "symbols": n,
        "wall_ms_p50": wall,
        "symbols_per_s": n / wall * 1000,
        "symbols_per_s_excl_embedding": n / (wall - emb) * 1000,
        "stages_ms_p50": {k: float(np.median(v)) for k, v in d.items()},
    }
    stages = ", ".join(
        f"{LABELS.get(k, k)} {float(np.median(parts[k])):.0f}" for k in STAGES[:-1] if parts[k]
    )
    print(
        f"batch, {way}: {n} symbols in {wall:.0f} ms (median of {reps}) = "
        f"{res['symbols_per_s']:.0f} symbols/s; excluding the embedding "
        f"{res['symbols_per_s_excl_embedding']:.0f} symbols/s ({stages} ms)"
    )
    return res


@torch.inference_mode()
def nets_alone(pred: Predictor, bars: dict, reps: int) -> float:
    """Median ms of the two networks' forward passes alone on the batch's windows."""
    n, w = len(bars), pred.lookback
    e = pred.bundle.manifest["schema"]["embedding_dim"]
    gen = torch.Generator().manual_seed(0)
    price, ctx = torch.randn(n, w, 5, generator=gen), torch.randn(n, w, 29, generator=gen)
    emb = torch.randn(n, e, generator=gen) if e else None
    times = []
    for i in range(reps + 2):
        t0 = time.perf_counter()
        for m in pred.bundle.members.values():
            m(price, emb, ctx, outputs_only=True)
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--data", required=True, help="store the bundle's symbols are read from")
    ap.add_argument("--reps", type=int, default=300, help="single-symbol calls per way")
    ap.add_argument("--batch-reps", type=int, default=15, help="whole-universe calls per way")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    pred = Predictor.load(args.bundle)
    store = BarStore(args.data)
    syms = store.symbols()
    bars = {s: store.read(s).tail(pred.min_bars).reset_index(drop=True) for s in syms}
    pred.predict_bars({syms[0]: bars[syms[0]]})  # warm-up
    backend = pred.bundle.manifest["embedding"]["backend"]
    print(
        f"bundle {args.bundle}: embedding backend {backend}, lookback {pred.lookback}; "
        f"{len(syms)} symbols; torch threads {torch.get_num_threads()}"
    )
    res: dict = {"backend": backend, "symbols": len(syms), "threads": torch.get_num_threads()}
    ways = ("raw", "store cold", "store warm")
    for way in ways:
        res[f"per_symbol_{way}"] = per_symbol(pred, way, bars, args.data, args.reps)
    for way in ways:
        res[f"batch_{way}"] = batch(pred, way, bars, args.data, args.batch_reps)
    nets = nets_alone(pred, bars, args.batch_reps)
    loop = res["per_symbol_raw"]["total"]["p50_ms"] * len(syms)
    raw = res["batch_raw"]
    res["ratios"] = {
        "batch_vs_per_symbol_loop": loop / raw["wall_ms_p50"],
        "nets_share_of_batch": nets / raw["wall_ms_p50"],
    }
    print(
        f"reference, same run: the batch is {res['ratios']['batch_vs_per_symbol_loop']:.1f}x the "
        f"per-symbol loop ({loop:.0f} ms for {len(syms)} calls); the two networks alone take "
        f"{nets:.0f} ms = {100 * res['ratios']['nets_share_of_batch']:.0f} % of the raw batch"
    )
    print("spec (context only, GPU): 50-100 ms per prediction")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
