"""Benchmark: the per-symbol stages on the process pool and on a Dask LocalCluster (issue #16).

The same work twice in one run, on the real daily bars of ../shared/data (or `--bars DIR`):
read + validate the files, the 29 features + labels of every symbol, the local embeddings
(the encoder trained once beforehand, then applied per symbol), and batch prediction's tail
features of every symbol. Each stage runs on the pool (`execution.engine: process`, the
default; embeddings there run in this process) and on a LocalCluster of the same number of
single-threaded workers (`execution.engine: dask`); the outputs are compared bit for bit and
the Dask/pool time ratio is printed (the cluster's start-up is timed on its own).

Usage: python benchmarks/engines.py [--bars ../shared/data/daily] [--workers 2] [--symbols 100]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def stages(engine, bars: Path, work: Path, symbols: list[str]) -> tuple[dict, dict]:
    """(seconds per stage, outputs) of every per-symbol stage on `engine`."""
    from tradeformer.config import FeatureConfig
    from tradeformer.data.loading import load_bars
    from tradeformer.data.sources import write_store
    from tradeformer.features.columns import WARMUP_BARS
    from tradeformer.features.foundation import build_embeddings
    from tradeformer.features.foundation.local import LocalEncoderConfig
    from tradeformer.features.pipeline import build_features
    from tradeformer.inference.predictor import tail_features

    t, out = {}, {}
    t0 = time.perf_counter()
    loaded = load_bars(bars, symbols=symbols, engine=engine)
    t["read + validate"] = time.perf_counter() - t0
    store = write_store(loaded, work / "store", source=str(bars))
    t0 = time.perf_counter()
    build_features(store.root, work / "features", FeatureConfig(), engine=engine, progress=False)
    t["29 features + labels"] = time.perf_counter() - t0
    local = LocalEncoderConfig(lookback=120, steps=50)
    emb_root = work.parent / "embeddings"  # shared: the encoder is trained once, reused
    kw = {"symbols": symbols, "local_config": local, "train_end": "2015-01-01", "progress": False}
    build_embeddings(store.root, emb_root, "local", **{**kw, "symbols": symbols[:1]})
    t0 = time.perf_counter()
    m = build_embeddings(store.root, emb_root, "local", engine=engine, **kw)
    t["local embeddings"] = time.perf_counter() - t0
    out["embeddings"] = {s: np.load(Path(m["path"]) / e["file"]) for s, e in m["symbols"].items()}
    shutil.rmtree(m["path"])  # the next engine embeds again
    frames = {s: store.read(s, "1D") for s in symbols}

    def job(part: list[str]) -> tuple:  # the job `Predictor` hands `tail_features`
        bars_ = {s: frames[s] for s in part}
        return bars_, dict.fromkeys(part, "1D"), {}, FeatureConfig(), 120, WARMUP_BARS + 120

    t0 = time.perf_counter()
    if engine.name == "dask":
        split = np.array_split(np.array(symbols, dtype=object), 4 * engine.workers)
        parts = [list(p) for p in split]
        outs = engine.map(tail_features, [job(p) for p in parts])
        out["tail"] = tuple(np.concatenate([o[i] for o in outs]) for i in range(3))
    else:  # what `Predictor` does without an engine: one vectorised call here
        out["tail"] = tail_features(job(symbols))
    t["batch prediction's features"] = time.perf_counter() - t0
    out["bars"] = loaded.bars
    out["features"] = {s: pd.read_parquet(p) for s, p in _parts(work / "features")}
    return t, out


def _parts(folder: Path):
    return ((p.stem, p) for p in sorted(folder.rglob("*.parquet")))


def same(a: dict, b: dict) -> None:
    for s in a["bars"]:
        pd.testing.assert_frame_equal(a["bars"][s], b["bars"][s], check_exact=True)
        pd.testing.assert_frame_equal(a["features"][s], b["features"][s], check_exact=True)
        np.testing.assert_array_equal(a["embeddings"][s], b["embeddings"][s])
    for x, y in zip(a["tail"], b["tail"], strict=True):
        np.testing.assert_array_equal(x, y)


def main() -> None:
    from tradeformer.execution import DaskEngine, ProcessEngine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=Path, default=ROOT.parent / "shared" / "data" / "daily")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--symbols", type=int, default=100)
    args = ap.parse_args()
    symbols = sorted(p.stem for p in args.bars.glob("*.parquet"))[: args.symbols]
    with tempfile.TemporaryDirectory() as tmp:
        pool = ProcessEngine(args.workers)
        t_pool, out_pool = stages(pool, args.bars, Path(tmp) / "pool", symbols)
        t0 = time.perf_counter()
        dask = DaskEngine(workers=args.workers)
        start = time.perf_counter() - t0
        try:
            t_dask, out_dask = stages(dask, args.bars, Path(tmp) / "dask", symbols)
        finally:
            dask.close()
    same(out_pool, out_dask)
    print(f"{len(symbols)} symbols, {args.workers} workers; outputs identical bit for bit")
    print(f"LocalCluster start-up: {start:.1f} s (once per run)")
    print(f"{'stage':32s} {'pool s':>8s} {'dask s':>8s} {'dask/pool':>10s}")
    for k in t_pool:
        print(f"{k:32s} {t_pool[k]:8.2f} {t_dask[k]:8.2f} {t_dask[k] / t_pool[k]:10.2f}")
    tp, td = sum(t_pool.values()), sum(t_dask.values())
    print(f"{'total':32s} {tp:8.2f} {td:8.2f} {td / tp:10.2f}")


if __name__ == "__main__":
    main()
