"""The combined 541-D feature + label table (the spec's notebook-01 output) as partitioned Parquet.

`OUT/symbol=<SYM>/part-0.parquet` with columns timestamp, symbol, the 29 classical columns, the
512 embedding columns `emb_000..emb_511` (absent with the `none` backend), and the labels;
`OUT/manifest.json` holds the schema (column order) and where each part came from. Each part
is written by one task of an engine (a memory-mapped embedding is opened by the task itself,
by path, instead of being shipped to it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.data.store import safe_name
from tradeformer.dataset.universe import Universe
from tradeformer.execution import Engine, engine_scope


def embedding_columns(dim: int) -> list[str]:
    return [f"emb_{i:03d}" for i in range(dim)]


def _embedding_source(emb: np.ndarray, rows: np.ndarray):
    """A memory map's file and the rows (the task reads them), else the rows' values."""
    m = emb if isinstance(emb, np.memmap) else getattr(emb, "base", None)
    if isinstance(m, np.memmap) and m.filename and m.shape == emb.shape:
        return ("file", str(m.filename), rows)
    return ("values", np.asarray(emb[rows]))


def write_part(job: tuple) -> str:
    """One symbol's rows as `symbol=<SYM>/part-0.parquet`; returns the part's path."""
    sym, stamps, context, source, labels, columns, out = job
    emb = np.load(source[1], mmap_mode="r")[source[2]] if source[0] == "file" else source[1]
    data = np.concatenate([context, emb.astype(context.dtype, copy=False), labels], axis=1)
    df = pd.DataFrame(data, columns=columns[2:])
    df.insert(0, "symbol", sym)
    df.insert(0, "timestamp", pd.DatetimeIndex(stamps.astype("datetime64[ns]")))
    part = Path(out) / f"symbol={safe_name(sym)}"
    part.mkdir(exist_ok=True)
    df.to_parquet(part / "part-0.parquet", index=False, compression="zstd")
    return str(part)


def write_table(
    u: Universe, out: Path, meta: dict | None = None, *, engine: Engine | None = None
) -> dict:
    """Every symbol's eligible rows as Parquet parts (on `engine`, default: here) + manifest."""
    out.mkdir(parents=True, exist_ok=True)
    dim = u.embedding.shape[1]
    labels = [f"ret_{h}" for h in u.horizons] + [f"dir_{h}" for h in u.horizons]
    columns = ["timestamp", "symbol", *u.context_names, *embedding_columns(dim), *labels]
    jobs = []
    for k, sym in enumerate(u.symbols):
        a, b = u.offsets[k], u.offsets[k + 1]
        rows = np.arange(a, b)[u.eligible[a:b]]
        lab = np.concatenate([u.ret[rows], u.direction[rows]], axis=1)
        src = _embedding_source(u.embedding, rows)
        jobs.append((sym, u.timestamps[rows], u.context[rows], src, lab, columns, str(out)))
    with engine_scope(engine) as eng:
        eng.map(write_part, jobs, label="541-D table")
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
