"""Benchmark: cost against the size of the universe (issue #16).

Synthetic universes of real bars (each symbol one of the bundled real series, rotated to a
different start and re-based: `tradeformer.data.surrogate.stand_in_daily`) of 100, 200 and
400 symbols x 2000-2024 daily. Each size runs in its own process: validate + import + the 29
features, the local embeddings, one training epoch of each member (walk-forward, 2 folds, a
fixed number of samples per epoch), the veto and the bundle, then batch prediction of every
symbol from the store. For every phase: wall seconds and the process's peak RSS (sampled every
50 ms with psutil). The reference is the smallest size in the same run: the table gives each
phase's time per symbol relative to it (1.0 = linear) and the memory added per symbol.

Usage: python benchmarks/scale.py [--sizes 100,200,400] [--out scale.json] [--storage float16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


class PeakRSS:
    """Peak resident set size of this process (and its children) while a phase runs."""

    def __init__(self, every: float = 0.05):
        self.every, self.peak, self.peak_anon, self._stop = every, 0, 0, threading.Event()
        self.proc = psutil.Process()

    def _sizes(self) -> tuple[int, int]:
        """(RSS, RSS less file-backed pages) of this process and its children: the second
        is the anonymous memory (the arrays); the first adds memory-mapped file pages that
        are resident (reclaimable page cache, but counted in RSS)."""
        rss = anon = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            with suppress(psutil.Error):
                m = p.memory_info()
                rss, anon = rss + m.rss, anon + m.rss - m.shared
        return rss, anon

    def _rss(self) -> int:
        return self._sizes()[0]

    def _sample(self) -> None:
        rss, anon = self._sizes()
        self.peak, self.peak_anon = max(self.peak, rss), max(self.peak_anon, anon)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    @contextmanager
    def phase(self, name: str, out: dict):
        self.peak = self.peak_anon = 0
        self._sample()
        self._stop.clear()
        t = threading.Thread(target=self._run, daemon=True)
        t.start()
        t0 = time.perf_counter()
        yield
        seconds = time.perf_counter() - t0
        self._stop.set()
        t.join()
        self._sample()
        out[name] = {
            "seconds": seconds,
            "peak_rss_gb": self.peak / 2**30,
            "peak_anon_gb": self.peak_anon / 2**30,
        }
        print(
            f"  {name}: {seconds:.1f} s, peak RSS {self.peak / 2**30:.2f} GB "
            f"(anonymous {self.peak_anon / 2**30:.2f} GB)",
            flush=True,
        )


def one_size(n: int, work: Path, storage: str) -> dict:
    """Every phase for `n` symbols (run in a fresh process: peak RSS is this size's own)."""
    from tradeformer.config import ExperimentConfig
    from tradeformer.data.surrogate import stand_in_daily
    from tradeformer.dataset.prepare import open_prepared, prepare_store, stable_hash
    from tradeformer.features.pipeline import build_features
    from tradeformer.inference import Predictor
    from tradeformer.stages.pipeline import run_training

    bars = work / "bars"
    bars.mkdir(parents=True)
    for sym, frame in stand_in_daily([f"S{i:04d}" for i in range(n)]).items():
        frame.to_parquet(bars / f"{sym}.parquet", index=False)
    cfg = ExperimentConfig(
        name=f"scale{n}",
        seed=0,
        runs_dir=str(work / "runs"),
        cache_dir=str(work / "cache"),
        write_dataset_table=False,
        data={"source": str(bars)},
        embedding={"backend": "local", "local_steps": 200, "storage": storage},
        calendar={"test_start": "2022-01-03", "n_folds": 2, "val_bars": 250},
        training={
            "epochs": 1,
            "max_samples_per_epoch": 20_000,
            "max_eval_samples": 4_000,
            "num_threads": 2,
        },
        veto={"num_boost_round": 100},
    )
    rss, out = PeakRSS(), {"symbols": n}
    run = work / "run"
    with rss.phase("import + 29 features", out):
        store, tf = prepare_store(cfg)
        feat = cfg.features.model_copy(update={"timeframe": tf})
        key = stable_hash([str(store.root), feat.fingerprint()])  # the data stage's cache
        build_features(store.root, work / "cache" / "features" / key, feat, progress=False)
    with rss.phase("local embeddings + universe (the data stage)", out):
        run_training(cfg, run_dir=run, stages=("data",), progress=False)
    with rss.phase("open the universe of a run", out):
        u = open_prepared(run, cfg).universe
        out["rows"] = len(u.timestamps)
        del u
    with rss.phase("train (deep: 2 folds x 2 members, 1 epoch of 20k samples)", out):
        run_training(cfg, run_dir=run, stages=("deep",), progress=False)
    with rss.phase("veto + bundle", out):
        run_training(cfg, run_dir=run, stages=("veto", "bundle"), progress=False)
    with rss.phase("batch prediction (every symbol, from the store)", out):
        pred = Predictor.load(run / "bundle")
        store = next((work / "cache" / "stores").iterdir())
        table = pred.predict_store(store)
        out["predicted"] = len(table)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,200,400")
    ap.add_argument("--storage", default="float16", choices=("float32", "float16"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:  # the child process of one size
        print(json.dumps(one_size(args.one, args.work, args.storage)))
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"{n} symbols ({args.storage} embeddings)", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, __file__, "--one", str(n), "--work", tmp]
            cmd += ["--storage", args.storage]
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if res.returncode:
                sys.exit(res.stdout + res.stderr)
            for line in res.stdout.splitlines()[:-1]:
                print(line)
            results.append(json.loads(res.stdout.splitlines()[-1]))
    report(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


def report(results: list[dict]) -> None:
    ref = results[0]
    phases = [k for k, v in ref.items() if isinstance(v, dict)]
    print(f"\nreference: {ref['symbols']} symbols; time ratio = (s per symbol) / reference's")
    print(f"{'phase':58s} " + " ".join(f"{r['symbols']:>16d}" for r in results))
    for p in phases:
        cells = []
        for r in results:
            ratio = (r[p]["seconds"] / r["symbols"]) / (ref[p]["seconds"] / ref["symbols"])
            cells.append(f"{r[p]['seconds']:6.1f}s x{ratio:4.2f} {r[p]['peak_rss_gb']:4.2f}G")
        print(f"{p[:58]:58s} " + " ".join(f"{c:>16s}" for c in cells))


if __name__ == "__main__":
    main()
