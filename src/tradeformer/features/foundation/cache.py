"""Embeddings of every bar of every symbol in a store, cached on disk.

Layout: `OUT/<backend>-<fingerprint>/<SYMBOL>.npy` (float32, one row per bar, NaN for the first
lookback - 1 bars) and `manifest.json` there (backend description, lookback, timeframe, per
symbol: rows and the fingerprint of those bars). A rerun computes only rows that are missing:
when a symbol gained bars and its earlier bars are unchanged, only the new windows are embedded.
The `local` backend is trained once per (training data, config) and kept in `OUT/local-models/`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from tradeformer.data.schema import TIMESTAMP, to_ns
from tradeformer.data.store import BarStore, frame_fingerprint, safe_name
from tradeformer.errors import ConfigError, NotFoundError
from tradeformer.execution import Engine
from tradeformer.execution.memory import trim_heap
from tradeformer.features.foundation.base import EmbeddingBackend, NoEmbedding
from tradeformer.features.windows import OHLCV, gather, valid_ends

MANIFEST = "manifest.json"


def embed_bars(
    bars: pd.DataFrame,
    backend: EmbeddingBackend,
    lookback: int,
    *,
    start: int = 0,
    batch_size: int = 512,
    on_batch=None,
) -> np.ndarray:
    """(len(bars), dim) embeddings; rows < max(start, lookback - 1) are NaN (not computed)."""
    values = bars[list(OHLCV)].to_numpy(dtype="float64")
    ts = to_ns(bars[TIMESTAMP])
    out = np.full((len(bars), backend.dim), np.nan, dtype=np.float32)
    ends = valid_ends(len(bars), lookback)
    ends = ends[ends >= start]
    for i in range(0, len(ends), batch_size):
        e = ends[i : i + batch_size]
        out[e] = backend.embed(
            gather(values, e, lookback), gather(ts[:, None], e, lookback)[..., 0]
        )
        if on_batch:
            on_batch(len(e))
    return out


def default_train_end(store: BarStore, timeframe: str, symbols: list[str]) -> pd.Timestamp:
    """60 % point of the pooled bar dates (used only when no training end is given)."""
    stamps = np.concatenate([to_ns(store.read(s, timeframe)[TIMESTAMP]) for s in symbols])
    return pd.Timestamp(np.quantile(stamps, 0.6).astype("datetime64[ns]"))


def fit_local_backend(
    store: BarStore,
    timeframe: str,
    symbols: list[str],
    root: Path,
    *,
    lookback: int,
    train_end: pd.Timestamp,
    config=None,
    progress: bool = True,
):
    """Train (or reuse) the local encoder on windows ending on or before `train_end`."""
    from tradeformer.features.foundation.local import (
        LocalBackend,
        LocalEncoderConfig,
        WindowSampler,
    )

    cfg = config or LocalEncoderConfig(lookback=lookback)
    if cfg.lookback != lookback:
        raise ValueError(f"local encoder lookback {cfg.lookback} != {lookback}")
    arrays, train_ends, held_ends, data_fp = [], [], [], hashlib.sha256()
    cut = to_ns(pd.Series([pd.Timestamp(train_end)]))[0]
    for s in symbols:
        bars = store.read(s, timeframe)
        ts = to_ns(bars[TIMESTAMP])
        ends = valid_ends(len(bars), lookback)
        n_train = int(np.searchsorted(ts, cut, side="right"))
        data_fp.update(s.encode() + frame_fingerprint(bars.iloc[:n_train]).encode())
        arrays.append(bars[list(OHLCV)].to_numpy(dtype="float64"))
        train_ends.append(ends[ends < n_train])
        # held out: windows entirely after the training period
        held_ends.append(ends[ends >= n_train + lookback - 1])
    key = hashlib.sha256(
        (json.dumps(asdict(cfg), sort_keys=True) + data_fp.hexdigest()).encode()
    ).hexdigest()[:16]
    folder = root / "local-models" / key
    if (folder / "model.safetensors").exists():
        return LocalBackend.load(folder)
    train = WindowSampler(arrays, train_ends, lookback)
    held = WindowSampler(arrays, held_ends, lookback) if sum(map(len, held_ends)) else None
    backend = LocalBackend.fit(train, held, cfg, progress=progress)
    backend.meta.update({"train_end": str(pd.Timestamp(train_end)), "data_key": key})
    backend.save(folder)
    return LocalBackend.load(folder)


def make_backend(name: str, **kw) -> EmbeddingBackend:
    """chronos / kronos / none (the local backend needs training data: see build_embeddings)."""
    if name == "chronos":
        from tradeformer.features.foundation.chronos import DEFAULT_MODEL, ChronosBackend

        return ChronosBackend(kw.get("model_id") or DEFAULT_MODEL, device=kw.get("device", "cpu"))
    if name == "kronos":
        from tradeformer.features.foundation.kronos import (
            DEFAULT_MODEL,
            DEFAULT_TOKENIZER,
            KronosBackend,
        )

        return KronosBackend(
            kw.get("model_id") or DEFAULT_MODEL,
            kw.get("tokenizer_id") or DEFAULT_TOKENIZER,
            device=kw.get("device", "cpu"),
        )
    if name == "none":
        return NoEmbedding()
    raise ConfigError(f"unknown embedding backend {name!r}: local, chronos, kronos or none")


def _backend(store, tf, syms, root, backend, lookback, train_end, local_config, progress, kw):
    """The embedding model (the local encoder is trained first) and manifest extras."""
    if backend != "local":
        return make_backend(backend, **kw), {}
    end = pd.Timestamp(train_end) if train_end else default_train_end(store, tf, syms)
    model = fit_local_backend(
        store,
        tf,
        syms,
        root,
        lookback=lookback,
        train_end=end,
        config=local_config,
        progress=progress,
    )
    return model, {"train_end": str(end)}


def _plan(store, tf, syms, folder: Path, manifest: dict) -> list[tuple]:
    """(symbol, bars, first row to embed, file) per symbol: a symbol whose stored rows are
    an unchanged prefix of its bars embeds only the new rows."""
    plan = []
    for s in syms:
        bars = store.read(s, tf)
        prev = manifest["symbols"].get(s)
        path = folder / f"{safe_name(s)}.npy"
        reuse = (
            prev
            and path.exists()
            and prev["rows"] <= len(bars)
            and frame_fingerprint(bars.iloc[: prev["rows"]]) == prev["prefix_sha"]
        )
        plan.append((s, bars, prev["rows"] if reuse else 0, path))
    return plan


def _embed_symbol(job: tuple, model: EmbeddingBackend, on_batch=None) -> tuple[str, dict, int]:
    """One planned symbol embedded by `model` and written (atomically): (symbol, manifest
    entry, windows computed). A pure function of the symbol's bars: any engine gives the same."""
    s, bars, start, path, lookback, batch_size = job
    emb = embed_bars(bars, model, lookback, start=start, batch_size=batch_size, on_batch=on_batch)
    if start:
        emb[:start] = np.load(path)[:start]
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, path)
    entry = {"file": path.name, "rows": len(bars), "prefix_sha": frame_fingerprint(bars)}
    return s, entry, max(0, len(bars) - max(start, lookback - 1))


def _embed_plan(plan, model, manifest, lookback, batch_size, progress, engine=None) -> int:
    """Embed and write each planned symbol; returns the windows computed. In this process
    by default (the model's own kernels use every core), on a Dask engine one task per
    symbol (the model sent once to every worker)."""
    todo = [p for p in plan if p[2] < len(p[1])]
    if engine is not None and engine.name == "dask" and todo:
        jobs = [(s, b, st, path, lookback, batch_size) for s, b, st, path in todo]
        shared = {"model": engine.broadcast(model)}
        results = engine.map(
            _embed_symbol, jobs, label="embedding", progress=progress, shared=shared
        )
    else:
        total = sum(max(0, len(b) - max(st, lookback - 1)) for _, b, st, _ in todo)
        results = []
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"embedding ({model.name})", total=max(total, 1))
            for s, b, st, path in todo:
                job = (s, b, st, path, lookback, batch_size)
                results.append(_embed_symbol(job, model, lambda k: bar.advance(task, k)))
                trim_heap()  # the symbol's freed batches (else held: GBs over a universe)
    for s, entry, _ in results:
        manifest["symbols"][s] = entry
    return sum(r[2] for r in results)


def build_embeddings(
    store_dir: str | Path,
    out_dir: str | Path,
    backend: str = "local",
    *,
    timeframe: str | None = None,
    symbols: list[str] | None = None,
    lookback: int = 120,
    batch_size: int = 512,
    train_end: str | pd.Timestamp | None = None,
    local_config=None,
    progress: bool = True,
    engine: Engine | None = None,
    model: EmbeddingBackend | None = None,
    **backend_kw,
) -> dict:
    """Embed every bar of the selected symbols; returns the manifest (see module docstring).
    On a Dask `engine` each symbol is a task; otherwise they run in this process. `model`:
    an embedding backend already built (a bundle's trained encoder), used as it is."""
    store = BarStore(store_dir)
    tf = timeframe or store.default_timeframe()
    syms = symbols or store.symbols(tf)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    if model is not None:
        extra = {}
    else:
        model, extra = _backend(
            store, tf, syms, root, backend, lookback, train_end, local_config, progress, backend_kw
        )
    desc = model.describe()
    fp = hashlib.sha256(
        (json.dumps(desc, sort_keys=True, default=str) + f"{lookback}|{tf}").encode()
    ).hexdigest()[:12]
    folder = root / f"{model.name}-{fp}"
    folder.mkdir(exist_ok=True)
    mpath = folder / MANIFEST
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {"symbols": {}}
    manifest.update(
        {
            "backend": model.name,
            "describe": desc,
            "dim": model.dim,
            "lookback": lookback,
            "timeframe": tf,
            "key": folder.name,
            **extra,
        }
    )
    plan = _plan(store, tf, syms, folder, manifest)
    computed = _embed_plan(plan, model, manifest, lookback, batch_size, progress, engine)
    manifest["last_build"] = {"windows_computed": computed, "symbols": len(syms)}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    os.replace(tmp, mpath)
    manifest["path"] = str(folder)
    return manifest


def load_embeddings(folder: str | Path, symbol: str, mmap: bool = False) -> np.ndarray:
    """One symbol's (n_bars, dim) embeddings from a backend folder built above (`mmap`: a
    read-only memory map instead of a copy)."""
    folder = Path(folder)
    m = json.loads((folder / MANIFEST).read_text())
    if symbol not in m["symbols"]:
        raise NotFoundError(f"{symbol!r} not embedded in {folder}")
    return np.load(folder / m["symbols"][symbol]["file"], mmap_mode="r" if mmap else None)
