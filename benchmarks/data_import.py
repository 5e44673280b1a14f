"""Benchmark: import the 100-symbol daily set (load + validate + write store with 1W/1M).

Reference in the same run: a bare `pd.read_parquet` of every file (the floor for any loader).
Usage: python benchmarks/data_import.py [../shared/data/daily]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from tradeformer.data import BarStore, load_bars, resample


def main(folder: Path) -> None:
    files = sorted(folder.glob("*.parquet"))
    t0 = time.perf_counter()
    raw = [pd.read_parquet(f) for f in files]
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    loaded = load_bars(folder)
    t_load = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        derived = {
            tf: {s: resample(f, tf, source="1D") for s, f in loaded.bars.items()}
            for tf in ("1W", "1M")
        }
        BarStore(tmp).write_many({"1D": loaded.bars, **derived}, base_timeframe="1D")
        t_write = time.perf_counter() - t0

    rows = sum(len(r) for r in raw)
    print(f"{len(files)} files, {rows:,} bars")
    print(f"bare pd.read_parquet:           {t_read:6.2f} s  (reference)")
    print(f"load + validate:                {t_load:6.2f} s  ({t_load / t_read:.1f}x reference)")
    print(f"resample 1W/1M + write store:   {t_write:6.2f} s")
    print(f"full import:                    {t_load + t_write:6.2f} s")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "daily"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
