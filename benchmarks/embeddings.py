"""Benchmark: windows/second of each embedding backend on this machine, and the projected time
for 100 symbols x 24 years of daily bars (~578k windows of 120 bars).

Chronos / Kronos use randomly initialised checkpoints (`random_checkpoints.py`): `tiny` and the
real `small` shapes (chronos-t5-small, chronos-bolt-small, approximately Kronos-small), loaded
through `from_pretrained` from a temp dir. `--local-full` also trains and embeds the `local`
encoder on all 100 daily symbols (the issue's < 10 minute target), reporting time and peak RSS.
Usage: python benchmarks/embeddings.py [DATA] [--local-full] [--device cuda]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
WINDOWS_100x24Y = 578_285 - 100 * 119


def rate(backend, windows: np.ndarray, stamps: np.ndarray, batch: int) -> float:
    backend.embed(windows[:batch], stamps[:batch])
    t0 = time.perf_counter()
    for i in range(0, len(windows), batch):
        backend.embed(windows[i : i + batch], stamps[i : i + batch])
    return len(windows) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--local-full", action="store_true")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    data = Path(args.data)

    from tradeformer.data.schema import to_ns
    from tradeformer.features.foundation import make_backend
    from tradeformer.features.foundation.random_checkpoints import (
        save_random_chronos,
        save_random_chronos_bolt,
        save_random_kronos,
    )
    from tradeformer.features.windows import gather, valid_ends

    bars = pd.read_parquet(data / "daily" / "AAPL.parquet")
    values = bars[["open", "high", "low", "close", "volume"]].to_numpy(float)
    ts = to_ns(bars["timestamp"])
    ends = valid_ends(len(bars), 120)[-1024:]
    win, stamps = gather(values, ends, 120), gather(ts[:, None], ends, 120)[..., 0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(f"{'backend':<34}{'windows/s':>12}{'100 sym x 24 y':>18}")

    def report(name: str, r: float) -> None:
        hours = WINDOWS_100x24Y / r / 3600
        print(f"{name:<34}{r:>12.1f}{hours:>15.2f} h")

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for size, n, batch in (("tiny", 1024, 256), ("small", 128, 32)):
            b = make_backend(
                "chronos",
                model_id=str(save_random_chronos(t / f"t5{size}", size)),
                device=args.device,
            )
            report(f"chronos T5 ({size}, random)", rate(b, win[:n], stamps[:n], batch))
            b = make_backend(
                "chronos",
                model_id=str(save_random_chronos_bolt(t / f"bolt{size}", size)),
                device=args.device,
            )
            report(f"chronos-bolt ({size}, random)", rate(b, win[:n], stamps[:n], batch))
            m, k = save_random_kronos(t / f"kronos{size}", size)
            b = make_backend("kronos", model_id=str(m), tokenizer_id=str(k), device=args.device)
            report(f"kronos ({size}, random)", rate(b, win[:n], stamps[:n], batch))

    if args.local_full:
        from tradeformer.data import BarStore
        from tradeformer.data.loading import load_bars
        from tradeformer.features.foundation import build_embeddings

        with tempfile.TemporaryDirectory() as tmp:
            loaded = load_bars(data / "daily")
            BarStore(Path(tmp) / "s").write(loaded.bars, "1D")
            t0 = time.perf_counter()
            m = build_embeddings(
                Path(tmp) / "s", Path(tmp) / "e", "local", train_end="2016-12-31", batch_size=2048
            )
            dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        h = m["describe"]["heldout"]
        print(
            f"local: trained (to 2016-12-31) and embedded {len(m['symbols'])} symbols, "
            f"{m['last_build']['windows_computed']:,} windows in {dt / 60:.1f} min, "
            f"peak RSS {peak:.0f} MB"
        )
        print(
            f"local held-out (windows after 2017) masked-patch MSE {h['masked_mse']:.3f}; "
            f"baselines: zeros {h['zeros']:.3f}, visible mean {h['visible_mean']:.3f}, "
            f"interpolation {h['interpolation']:.3f}"
        )


if __name__ == "__main__":
    sys.exit(main())
