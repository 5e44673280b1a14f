"""The combined 541-D feature + label table (the spec's notebook-01 output) as partitioned Parquet.

`OUT/symbol=<SYM>/part-0.parquet` with columns timestamp, symbol, the 29 classical columns, the
512 embedding columns `emb_000..emb_511` (absent with the `none` backend), and the labels;
`OUT/manifest.json` holds the schema (column order) and where each part came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.data.store import safe_name
from tradeformer.dataset.universe import Universe


def embedding_columns(dim: int) -> list[str]:
    return [f"emb_{i:03d}" for i in range(dim)]


def write_table(u: Universe, out: Path, meta: dict | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    dim = u.embedding.shape[1]
    labels = [f"ret_{h}" for h in u.horizons] + [f"dir_{h}" for h in u.horizons]
    columns = ["timestamp", "symbol", *u.context_names, *embedding_columns(dim), *labels]
    for k, sym in enumerate(u.symbols):
        a, b = u.offsets[k], u.offsets[k + 1]
        rows = np.arange(a, b)[u.eligible[a:b]]
        data = np.concatenate(
            [u.context[rows], u.embedding[rows], u.ret[rows], u.direction[rows]], axis=1
        )
        df = pd.DataFrame(data, columns=columns[2:])
        df.insert(0, "symbol", sym)
        df.insert(0, "timestamp", pd.DatetimeIndex(u.timestamps[rows].astype("datetime64[ns]")))
        part = out / f"symbol={safe_name(sym)}"
        part.mkdir(exist_ok=True)
        df.to_parquet(part / "part-0.parquet", index=False, compression="zstd")
    manifest = {
        "format": "tradeformer-dataset",
        "columns": columns,
        "n_features": len(u.context_names) + dim,
        "label_columns": labels,
        "rows": int(u.eligible.sum()),
        "symbols": u.symbols,
        **(meta or {}),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest
