"""Distribution of every classical feature on real data -> markdown table + PNG histograms.

Usage: python scripts/feature_stats.py [shared/data] [docs/img/feature_distributions.png]
Prints the table used in docs/features.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.features import CLASSICAL_COLUMNS, WARMUP_BARS, classical_features

ROOT = Path(__file__).resolve().parents[1]


def main(data: Path, png: Path) -> None:
    parts = []
    for p in sorted((data / "daily").glob("*.parquet")):
        table, _ = classical_features(pd.read_parquet(p), timeframe="1D")
        parts.append(table.iloc[WARMUP_BARS:])
    df = pd.concat(parts, ignore_index=True)
    cols = list(CLASSICAL_COLUMNS)
    print(f"{len(parts)} symbols, {len(df):,} bars after the {WARMUP_BARS}-bar warm-up\n")
    print("| column | mean | std | p1 | p50 | p99 | share 0 | NaN |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in cols:
        x = df[c].to_numpy()
        q = np.nanpercentile(x, [1, 50, 99])
        print(
            f"| `{c}` | {np.nanmean(x):.3g} | {np.nanstd(x):.3g} | {q[0]:.3g} | {q[1]:.3g} "
            f"| {q[2]:.3g} | {np.mean(x == 0):.1%} | {np.isnan(x).sum()} |"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(6, 5, figsize=(16, 16))
    for ax, c in zip(axes.flat, cols, strict=False):
        x = df[c].to_numpy()
        lo, hi = np.nanpercentile(x, [0.5, 99.5])
        ax.hist(np.clip(x, lo, hi), bins=60, color="#3b6ea8")
        ax.set_title(c, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(cols) :]:
        ax.axis("off")
    fig.suptitle(f"29 classical features, {len(parts)} daily symbols (0.5-99.5 % range)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=70)
    print(f"\nwrote {png}")


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    png = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/img/feature_distributions.png"
    main(data, png)
