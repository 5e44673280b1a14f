"""Benchmark: the full ensemble from raw bars (features + both nets + veto), per symbol and in
one batch for a universe; the foundation embedding timed separately.

Reference in the same run: the spec quotes 50-100 ms per prediction *on a GPU* (context only).
Usage: python benchmarks/inference.py --bundle runs/<id>/bundle --data STORE [--reps 200]
(e.g. the bundle of `tradeformer train --config configs/daily100.yaml` and its cached store).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tradeformer.data import BarStore
from tradeformer.inference import Predictor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    pred = Predictor.load(args.bundle)
    store = BarStore(args.data)
    syms = store.symbols()
    bars = {s: store.read(s).tail(pred.min_bars).reset_index(drop=True) for s in syms}
    pred.predict_bars({syms[0]: bars[syms[0]]})  # warm-up
    parts = {"features": [], "embedding": [], "models_and_veto": [], "total": []}
    for i in range(args.reps):
        s = syms[i % len(syms)]
        pred.predict_bars({s: bars[s]})
        for k in parts:
            parts[k].append(pred.last_timing[k] * 1000)
    print(
        f"bundle {args.bundle}: embedding backend {pred.bundle.manifest['embedding']['backend']}"
        f", lookback {pred.lookback}, {pred.min_bars} bars per request"
    )
    print(f"{'per symbol (ms)':<28}{'p50':>8}{'p99':>8}")
    for k, v in parts.items():
        print(f"{k:<28}{np.percentile(v, 50):>8.2f}{np.percentile(v, 99):>8.2f}")
    excl = np.array(parts["total"]) - np.array(parts["embedding"])
    print(
        f"{'total excluding embedding':<28}{np.percentile(excl, 50):>8.2f}"
        f"{np.percentile(excl, 99):>8.2f}"
    )
    t0 = time.perf_counter()
    out = pred.predict_bars(bars)
    dt = time.perf_counter() - t0
    tm = pred.last_timing
    print(
        f"batch: {len(out)} symbols in {dt * 1000:.0f} ms = {len(out) / dt:.0f} symbols/s "
        f"(features {tm['features'] * 1000:.0f} ms, embedding {tm['embedding'] * 1000:.0f} ms, "
        f"models+veto {tm['models_and_veto'] * 1000:.0f} ms); excluding the embedding "
        f"{len(out) / (dt - tm['embedding']):.0f} symbols/s"
    )
    print("spec (context only, GPU): 50-100 ms per prediction")


if __name__ == "__main__":
    main()
