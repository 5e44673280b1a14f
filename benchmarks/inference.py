"""Benchmark: the full ensemble (features + both nets + veto) per symbol and for a universe in
one batch, from raw bars and from a store; the foundation embedding is timed separately.

Two ways in:
- raw bars (`predict_bars`, what POST /v1/predict does): the request holds `min_bars` bars
  (warm-up + lookback) and is validated first;
- a store (`predict_store`, GET /v1/predict/{symbol}): the symbol's whole history is read, so the
  EMA-based columns equal the training features exactly (a short tail would not).
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

STAGES = ("read", "validation", "features", "embedding", "models_and_veto", "total")


def _table(title: str, parts: dict[str, list[float]]) -> None:
    print(f"{title:<34}{'p50':>8}{'p99':>8}")
    for k in STAGES:
        if parts.get(k):
            v = parts[k]
            print(f"  {k:<32}{np.percentile(v, 50):>8.2f}{np.percentile(v, 99):>8.2f}")
    excl = np.array(parts["total"]) - np.array(parts["embedding"])
    print(
        f"  {'total excluding embedding':<32}{np.percentile(excl, 50):>8.2f}"
        f"{np.percentile(excl, 99):>8.2f}"
    )


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
    print(
        f"bundle {args.bundle}: embedding backend {pred.bundle.manifest['embedding']['backend']}"
        f", lookback {pred.lookback}; {len(syms)} symbols; times in ms"
    )
    for way in ("raw bars", "store"):
        parts: dict[str, list[float]] = {k: [] for k in STAGES}
        for i in range(args.reps):
            s = syms[i % len(syms)]
            if way == "raw bars":
                pred.predict_bars({s: bars[s]})
            else:
                pred.predict_store(args.data, [s])
            for k in STAGES:
                if k in pred.last_timing:
                    parts[k].append(pred.last_timing[k] * 1000)
        n = pred.min_bars if way == "raw bars" else "all"
        _table(f"per symbol, {way} ({n} bars)", parts)
    for way in ("raw bars", "store"):
        t0 = time.perf_counter()
        out = pred.predict_bars(bars) if way == "raw bars" else pred.predict_store(args.data)
        dt = time.perf_counter() - t0
        tm = pred.last_timing
        stages = ", ".join(f"{k} {tm[k] * 1000:.0f}" for k in STAGES[:-1] if k in tm)
        print(
            f"batch, {way}: {len(out)} symbols in {dt * 1000:.0f} ms = {len(out) / dt:.0f} "
            f"symbols/s ({stages} ms); excluding the embedding "
            f"{len(out) / (dt - tm['embedding']):.0f} symbols/s"
        )
    print("spec (context only, GPU): 50-100 ms per prediction")


if __name__ == "__main__":
    main()
