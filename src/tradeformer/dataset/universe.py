"""All symbols' bars, classical features, embeddings and labels as contiguous arrays.

Symbols are concatenated (with offsets) so that a batch of samples anywhere in the universe is
one fancy-index gather; a window never crosses a symbol boundary because samples start at
`warmup + lookback - 1` bars into their symbol. Nothing here is materialised per window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file

from tradeformer.data.schema import TIMESTAMP, to_ns
from tradeformer.data.store import BarStore
from tradeformer.dataset.arrays import ArrayStore, finite_rows, gather_columns, release
from tradeformer.features.columns import CLASSICAL_COLUMNS, WARMUP_BARS
from tradeformer.features.foundation.cache import load_embeddings
from tradeformer.features.pipeline import load_features
from tradeformer.features.windows import OHLCV, gather, relative_ohlcv


@dataclass
class Universe:
    symbols: list[str]
    offsets: np.ndarray  # (S + 1,)
    timestamps: np.ndarray  # (N,) int64 ns, decision time = bar timestamp
    ohlcv: np.ndarray  # (N, 5) float64
    context: np.ndarray  # (N, 29) float32, raw
    embedding: np.ndarray  # (N, E) float32, raw (E = 0 without embeddings)
    ret: np.ndarray  # (N, H) float32
    direction: np.ndarray  # (N, H) float32
    horizons: tuple[int, ...]
    eligible: np.ndarray  # (N,) bool: full window, warm features, embedding present
    meta: dict = field(default_factory=dict)
    # what the networks learn when it is not the raw label (`dataset.cross_section`)
    target_ret: np.ndarray | None = None  # (N, H) float32
    target_dir: np.ndarray | None = None  # (N, H) float32
    context_names: tuple[str, ...] = CLASSICAL_COLUMNS

    @property
    def y_ret(self) -> np.ndarray:
        """The training target: `target_ret` when set, else the forward return."""
        return self.ret if self.target_ret is None else self.target_ret

    @property
    def y_dir(self) -> np.ndarray:
        return self.direction if self.target_dir is None else self.target_dir

    @property
    def symbol_of(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.symbols)), np.diff(self.offsets))

    @property
    def labeled(self) -> np.ndarray:
        return np.isfinite(self.ret).all(axis=1) & np.isfinite(self.direction).all(axis=1)

    def rows_between(self, start: pd.Timestamp, end: pd.Timestamp, labeled: bool = True):
        """Eligible rows whose decision date lies in [start, end]."""
        lo, hi = to_ns(pd.Series([start, end]))
        m = self.eligible & (self.timestamps >= lo) & (self.timestamps <= hi)
        if labeled:
            m &= self.labeled
        return np.flatnonzero(m)


def load_universe(
    store_dir: Path,
    features_dir: Path,
    embeddings_dir: Path | None,
    *,
    timeframe: str,
    symbols: list[str],
    horizons: tuple[int, ...],
    lookback: int,
    arrays: ArrayStore | None = None,
    embedding_dtype: str = "float32",
) -> Universe:
    """The universe of a store + feature build + embedding cache (training). With `arrays`,
    every per-row column is a memory map there (filled symbol by symbol, written once per
    key; read-only, the labels copy-on-write), else an array; either way no per-symbol
    copy is concatenated in RAM."""
    store = BarStore(store_dir)
    if arrays is None:
        parts = [
            (s, store.read(s, timeframe), load_features(features_dir, s), None) for s in symbols
        ]
        lengths = [len(p[1]) for p in parts]
        emb = _embedding_matrix(embeddings_dir, symbols, lengths, arrays, embedding_dtype)
        return build_universe(parts, horizons=horizons, lookback=lookback, embedding=emb)
    entries = store.manifest["entries"][timeframe]
    lengths = [int(entries[s].get("rows") or len(store.read(s, timeframe))) for s in symbols]
    n, h = sum(lengths), len(horizons)
    specs = {
        "timestamps": ((n,), "int64"),
        "ohlcv": ((n, len(OHLCV)), "float64"),
        "context": ((n, len(CLASSICAL_COLUMNS)), "float32"),
        "ret": ((n, h), "float32"),
        "dir": ((n, h), "float32"),
    }

    def fill(out: dict[str, np.ndarray]) -> None:
        a = 0
        for s, k in zip(symbols, lengths, strict=True):
            bars, table = store.read(s, timeframe), load_features(features_dir, s)
            if len(bars) != k or len(table) != k:
                raise ValueError(f"{s}: {len(bars)} bars, {len(table)} feature rows, {k} stored")
            for name, v in _columns(bars, table, horizons).items():
                out[name][a : a + k] = v
            a += k

    cols = arrays.group(specs, fill, modes={"ret": "c", "dir": "c"})  # labels: editable
    emb = _embedding_matrix(embeddings_dir, symbols, lengths, arrays, embedding_dtype)
    return assemble_universe(
        list(symbols),
        np.asarray(lengths, dtype=np.int64),
        *(cols[k] for k in ("timestamps", "ohlcv", "context")),
        emb,
        cols["ret"],
        cols["dir"],
        horizons=horizons,
        lookback=lookback,
    )


def _columns(bars: pd.DataFrame, table: pd.DataFrame, horizons) -> dict[str, np.ndarray]:
    """One symbol's per-row columns (the same conversions as `build_universe`)."""
    n = len(bars)
    return {
        "timestamps": to_ns(bars[TIMESTAMP]),
        "ohlcv": bars[list(OHLCV)].to_numpy(dtype="float64"),
        "context": table[list(CLASSICAL_COLUMNS)].to_numpy(dtype="float32"),
        "ret": _labels(table, "ret", horizons, n),
        "dir": _labels(table, "dir", horizons, n),
    }


def _embedding_matrix(folder, symbols, lengths, arrays, dtype) -> np.ndarray:
    """(N, E) embeddings of `symbols` in order (E = 0 without an embedding cache)."""
    if folder is None:
        return np.zeros((sum(lengths), 0), dtype="float32")
    first = load_embeddings(folder, symbols[0], mmap=True)
    shape = (sum(lengths), first.shape[1])

    def fill(out: np.ndarray) -> None:
        start = 0
        for s, n in zip(symbols, lengths, strict=True):
            part = load_embeddings(folder, s, mmap=True)
            if len(part) != n:
                raise ValueError(f"{s}: {len(part)} embedded rows, {n} bars")
            out[start : start + n] = part
            start += n
            release(out)  # written pages stay in the page cache, not in this process

    if arrays is None:
        out = np.empty(shape, dtype=dtype)
        fill(out)
        return out
    return arrays.array("embedding", shape, dtype, fill)


def build_universe(
    parts: list[tuple[str, pd.DataFrame, pd.DataFrame, np.ndarray | None]],
    *,
    horizons: tuple[int, ...],
    lookback: int,
    embedding: np.ndarray | None = None,
) -> Universe:
    """Assemble (symbol, bars, feature table, embeddings or None) into one Universe; the same
    code serves training and inference. `embedding`: the (N, E) matrix already assembled
    (then the parts' own embeddings are ignored)."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("ts", "px", "ctx", "emb", "ret", "dir")}
    lengths = []
    for s, bars, table, emb in parts:
        if len(table) != len(bars):
            raise ValueError(f"{s}: feature table has {len(table)} rows, bars {len(bars)}")
        n = len(bars)
        c = _columns(bars, table, horizons)
        for key, name in (("ts", "timestamps"), ("px", "ohlcv"), ("ctx", "context")):
            cols[key].append(c[name])
        if embedding is None:
            cols["emb"].append(
                np.zeros((n, 0), dtype="float32") if emb is None else emb.astype("float32")
            )
        cols["ret"].append(c["ret"])
        cols["dir"].append(c["dir"])
        lengths.append(n)
    cat = {k: np.concatenate(v) for k, v in cols.items() if v}
    if embedding is not None:
        cat["emb"] = embedding
    return assemble_universe(
        [p[0] for p in parts],
        np.asarray(lengths, dtype=np.int64),
        cat["ts"],
        cat["px"],
        cat["ctx"],
        cat["emb"],
        cat["ret"],
        cat["dir"],
        horizons=horizons,
        lookback=lookback,
    )


def assemble_universe(
    symbols: list[str],
    lengths: np.ndarray,
    timestamps: np.ndarray,
    ohlcv: np.ndarray,
    context: np.ndarray,
    embedding: np.ndarray,
    ret: np.ndarray,
    direction: np.ndarray,
    *,
    horizons: tuple[int, ...],
    lookback: int,
    has_embedding: np.ndarray | None = None,
) -> Universe:
    """A Universe from concatenated per-symbol rows (`lengths[s]` rows each), with the one
    eligibility rule: `WARMUP_BARS + lookback - 1` bars into the symbol, every context and
    embedding value finite. `has_embedding` (N,) limits that scan to the rows known to hold one
    (inference embeds only the last bar; the other rows are not scanned and not eligible)."""
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    context = context.astype("float32", copy=False)
    if embedding.dtype not in (np.float32, np.float16):  # float16: a memory-mapped store
        embedding = embedding.astype("float32")
    pos = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
    eligible = pos >= WARMUP_BARS + lookback - 1
    eligible &= np.isfinite(context).all(axis=1)
    if has_embedding is None:
        eligible &= finite_rows(embedding)
    else:  # only the flagged rows hold embeddings: check just those
        rows = np.flatnonzero(has_embedding)
        present = np.zeros(len(eligible), dtype=bool)
        present[rows[np.isfinite(embedding[rows]).all(axis=1)]] = True
        eligible &= present
    return Universe(
        symbols=list(symbols),
        offsets=offsets,
        timestamps=timestamps,
        ohlcv=ohlcv,
        context=context,
        embedding=embedding,
        ret=ret,
        direction=direction,
        horizons=tuple(horizons),
        eligible=eligible,
    )


def _labels(table: pd.DataFrame, kind: str, horizons: tuple[int, ...], n: int) -> np.ndarray:
    names = [f"{kind}_{h}" for h in horizons]
    if all(c in table.columns for c in names):
        return table[names].to_numpy(dtype="float32")
    return np.full((n, len(horizons)), np.nan, dtype="float32")


@dataclass
class Scaler:
    """Standardisation of context and embedding columns, fitted on training rows only."""

    ctx_mean: np.ndarray
    ctx_std: np.ndarray
    emb_mean: np.ndarray
    emb_std: np.ndarray
    clip: float = 10.0

    @classmethod
    def fit(
        cls, u: Universe, rows: np.ndarray, kind: str = "standard", clip: float = 10.0
    ) -> Scaler:
        """Centre and scale per column from `rows` (training rows only): mean / std, or
        (robust) median / (IQR / 1.349), the std of a normal with the same IQR."""
        stats = _robust_stats if kind == "robust" else _standard_stats
        c_mean, c_std = stats(u.context[rows])
        e_mean, e_std = _column_blocks(stats, u.embedding, rows)
        release(u.embedding)  # a full pass over the training rows: keep none of it resident
        return cls(c_mean, c_std, e_mean, e_std, clip)

    def context(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.ctx_mean) / self.ctx_std, -self.clip, self.clip)

    def embedding(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.emb_mean) / self.emb_std, -self.clip, self.clip)

    def save(self, path: Path) -> None:
        save_file(
            {
                "ctx_mean": self.ctx_mean,
                "ctx_std": self.ctx_std,
                "emb_mean": self.emb_mean,
                "emb_std": self.emb_std,
                "clip": np.asarray([self.clip], dtype="float32"),
            },
            str(path),
        )

    @classmethod
    def load(cls, path: Path) -> Scaler:
        t = load_file(str(path))
        clip = float(t["clip"][0]) if "clip" in t else 10.0
        return cls(t["ctx_mean"], t["ctx_std"], t["emb_mean"], t["emb_std"], clip)


def _column_blocks(stats, x: np.ndarray, rows: np.ndarray, block: int = 32):
    """`stats(x[rows])` computed `block` columns at a time (each column's statistics depend
    on that column alone): a (rows, 32) copy at a time instead of the (rows, 512) one."""
    if x.shape[1] <= block:
        return stats(gather_columns(x, rows, 0, x.shape[1]))
    k = x.shape[1]
    parts = [stats(gather_columns(x, rows, a, min(a + block, k))) for a in range(0, k, block)]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(2))


def _standard_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not x.size:
        return np.zeros(x.shape[1], "float32"), np.ones(x.shape[1], "float32")
    x = x.astype("float64")
    return x.mean(0).astype("float32"), (x.std(0) + 1e-6).astype("float32")


def _robust_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not x.size:
        return np.zeros(x.shape[1], "float32"), np.ones(x.shape[1], "float32")
    q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75], axis=0)
    scale = (q75 - q25) / 1.349
    scale = np.where(scale > 1e-9, scale, x.std(0))  # a column with a degenerate IQR
    return q50.astype("float32"), (scale + 1e-6).astype("float32")


def make_batch(u: Universe, rows: np.ndarray, lookback: int, scaler: Scaler) -> dict:
    """Model inputs and labels for global row indices (numpy float32)."""
    price = relative_ohlcv(gather(u.ohlcv, rows, lookback))
    ctx = scaler.context(gather(u.context, rows, lookback)).astype("float32")
    emb = scaler.embedding(u.embedding[rows]).astype("float32") if u.embedding.shape[1] else None
    return {
        "price": price,
        "context": ctx,
        "embedding": emb,
        "ret": u.y_ret[rows],
        "dir": u.y_dir[rows],
    }
