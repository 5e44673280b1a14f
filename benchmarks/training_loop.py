"""Benchmark: the whole training loop (`train_model`: batches gathered from a memory-mapped
universe, steps, validation, checkpoints), today's code against the code at `--before` (a git
revision), on the same synthetic universe in the same run, interleaved.

The universe: `--symbols` x `--bars` daily rows with 29 context columns and a 512-D float16
embedding on disk (memory-mapped, as a real run holds it). Each round trains TimeFormer-XL
`small` for one epoch of `--samples` rows at `--batch` and reports training samples/s
(wall time of `train_model` with a 512-row validation pass, so loop overheads count).

Usage: python benchmarks/training_loop.py [--before f866894] [--batch 256] [--samples 30000]
       [--rounds 3] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from revisions import source_at

ROOT = Path(__file__).resolve().parents[1]


def make_universe(folder: Path, n_symbols: int, n_bars: int) -> None:
    """The arrays, written once as .npy files (the embedding memory-mapped when read)."""
    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = n_symbols * n_bars
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    ohlcv = np.column_stack([close, close * 1.01, close * 0.99, close, rng.uniform(1e5, 2e5, n)])
    np.save(folder / "ohlcv.npy", ohlcv)
    np.save(folder / "context.npy", rng.normal(size=(n, 29)).astype("float32"))
    np.save(folder / "embedding.npy", rng.normal(size=(n, 512)).astype("float16"))
    np.save(folder / "ret.npy", rng.normal(0, 0.02, size=(n, 3)).astype("float32"))
    (folder / "done").write_text(json.dumps({"symbols": n_symbols, "bars": n_bars}))


def run_once(folder: Path, args) -> float:
    """Training samples/s of one `train_model` call with the package on sys.path."""
    import torch

    from tradeformer.config import TrainingConfig
    from tradeformer.dataset.universe import Scaler, assemble_universe
    from tradeformer.models import build_model
    from tradeformer.training.trainer import train_model

    meta = json.loads((folder / "done").read_text())
    s, b = meta["symbols"], meta["bars"]
    ret = np.load(folder / "ret.npy")
    u = assemble_universe(
        [f"S{i}" for i in range(s)], np.full(s, b),
        np.tile(np.arange(b, dtype=np.int64) * 86_400 * 10**9, s),
        np.load(folder / "ohlcv.npy"), np.load(folder / "context.npy"),
        np.load(folder / "embedding.npy", mmap_mode="r"), ret, (ret > 0).astype("float32"),
        horizons=(3, 5, 10), lookback=120,
    )  # fmt: skip
    rows = np.flatnonzero(u.eligible)
    tr, va = rows[: len(rows) * 4 // 5], rows[len(rows) * 4 // 5 :]
    cfg = TrainingConfig(
        epochs=1, batch_size=args.batch, max_samples_per_epoch=args.samples,
        max_eval_samples=512, num_threads=args.threads, device=args.device,
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model("timeformer", "small")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        train_model(
            model, u, tr, va, cfg, Scaler.fit(u, tr), seed=0, out_dir=Path(out), progress=False
        )
    return args.samples / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="f866894")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--samples", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--symbols", type=int, default=40)
    ap.add_argument("--bars", type=int, default=2500)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tf_loop_universe")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_once(args.data, args)))
        return
    make_universe(args.data, args.symbols, args.bars)
    paths = {"now": ROOT / "src", "before": source_at(args.before)}
    rates: dict[str, list[float]] = {k: [] for k in paths}
    child = [sys.executable, __file__, "--child", *sys.argv[1:]]
    for _ in range(args.rounds):
        for name, src in paths.items():
            env = {**os.environ, "PYTHONPATH": str(src)}
            out = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
            rates[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = {k: max(v) for k, v in rates.items()}
    print(
        f"TimeFormer-XL small, batch {args.batch}, {args.samples:,} samples, {args.threads} "
        f"threads, {args.device}: now {best['now']:,.0f} samples/s, before ({args.before}) "
        f"{best['before']:,.0f}, ratio {best['now'] / best['before']:.2f} "
        f"(rounds: now {[round(r) for r in rates['now']]}, "
        f"before {[round(r) for r in rates['before']]})"
    )


if __name__ == "__main__":
    main()
