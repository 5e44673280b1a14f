"""Store -> per-symbol feature tables (29 classical columns + labels), cached and parallel.

Each symbol is a pure function of its own bars (plus its intraday bars for the MTF 4H/1H
columns when the store has them), run on an engine (a process pool by default, or Dask). Output:
`OUT/<timeframe>/<SYMBOL>.parquet` and `OUT/manifest.json`. A symbol is recomputed only when
its cache key (bars fingerprint + config + feature code version) changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from tradeformer import __version__
from tradeformer.config import ExecutionConfig, FeatureConfig
from tradeformer.data.schema import TIMESTAMP, Timeframe
from tradeformer.data.store import BarStore, safe_name
from tradeformer.data.timeframes import infer_timeframe
from tradeformer.errors import NotFoundError, StageError
from tradeformer.execution import Engine, engine_scope
from tradeformer.features.columns import CLASSICAL_COLUMNS, FEATURE_VERSION, WARMUP_BARS
from tradeformer.features.mtf import MTFParams, intraday_alignment
from tradeformer.features.panel import BarPanel, classical_arrays
from tradeformer.labels import forward_returns, label_columns

MANIFEST = "manifest.json"


def classical_features(
    bars: pd.DataFrame,
    config: FeatureConfig | None = None,
    *,
    timeframe: str | None = None,
    intraday: pd.DataFrame | None = None,
    intraday_timeframe: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """One symbol: `timestamp` + 29 feature columns + labels, and metadata (MTF availability)."""
    cfg = config or FeatureConfig()
    base = Timeframe.parse(timeframe or infer_timeframe(bars[TIMESTAMP])).value
    values = classical_arrays(BarPanel.from_frames({"_": bars}), base, *cfg.params())[0]
    mtf = MTFParams(calendar=cfg.calendar, **cfg.mtf)
    info = intraday_alignment(values[:, :5], bars, base, intraday, intraday_timeframe, mtf)
    labels = forward_returns(bars["close"], cfg.horizons, cfg.label_kind)
    parts = [bars[[TIMESTAMP]], pd.DataFrame(values, columns=list(CLASSICAL_COLUMNS)), labels]
    out = pd.concat([p.reset_index(drop=True) for p in parts], axis=1)
    return out[[TIMESTAMP, *CLASSICAL_COLUMNS, *label_columns(cfg.horizons)]], {
        "mtf": info.to_dict()
    }


def intraday_timeframe(
    store: BarStore, symbol: str, base: str, entries: dict | None = None
) -> str | None:
    """Finest intraday timeframe in the store holding `symbol`, finer than `base`
    (`entries`: the manifest's, when the caller already read it)."""
    entries = entries if entries is not None else store.manifest["entries"]
    order = [t.value for t in Timeframe]
    cands = [
        tf
        for tf in entries
        if tf in order
        and Timeframe(tf).is_intraday
        and order.index(tf) < order.index(base)
        and symbol in entries[tf]
    ]
    return min(cands, key=order.index) if cands else None


def _cache_key(store: BarStore, symbol: str, base: str, fine: str | None, cfg: str) -> str:
    entries = store.manifest["entries"]
    parts = [entries[base][symbol]["sha256"], cfg, FEATURE_VERSION]
    if fine:
        parts.append(entries[fine][symbol]["sha256"])
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _build_one(args: tuple[str, str, str, str | None, dict, str]) -> tuple[str, dict]:
    store_dir, symbol, base, fine, cfg_dict, target = args
    store = BarStore(store_dir)
    cfg = FeatureConfig(**cfg_dict)
    bars = store.read(symbol, base)
    intraday = store.read(symbol, fine) if fine else None
    table, meta = classical_features(
        bars, cfg, timeframe=base, intraday=intraday, intraday_timeframe=fine
    )
    tmp = Path(target + ".tmp")
    table.to_parquet(tmp, index=False, compression="zstd")
    os.replace(tmp, target)
    meta["rows"] = len(table)
    return symbol, meta


def build_features(
    store_dir: str | Path,
    out_dir: str | Path,
    config: FeatureConfig | None = None,
    *,
    symbols: list[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    engine: Engine | None = None,
) -> dict:
    """Build (or reuse cached) feature tables for every symbol; returns the manifest.
    Symbols run on `engine` (default: a process pool of `workers` processes)."""
    cfg = config or FeatureConfig()
    store = BarStore(store_dir)
    base = Timeframe.parse(cfg.timeframe or store.default_timeframe()).value
    all_syms = store.symbols(base)
    if symbols:
        missing = sorted(set(symbols) - set(all_syms))
        if missing:
            raise NotFoundError(f"symbols not in store ({base}): {', '.join(missing)}")
    syms = symbols or all_syms
    out = Path(out_dir)
    folder = out / base
    folder.mkdir(parents=True, exist_ok=True)
    old = _read_manifest(out)
    old_syms = old.get("symbols", {}) if old.get("timeframe") == base else {}

    cfg_fp = cfg.fingerprint()
    jobs, entries, reused = [], {}, 0
    for s in syms:
        fine = intraday_timeframe(store, s, base) if cfg.use_intraday else None
        key = _cache_key(store, s, base, fine, cfg_fp)
        target = folder / f"{safe_name(s)}.parquet"
        prev = old_syms.get(s)
        if prev and prev.get("key") == key and target.exists():
            entries[s] = prev
            reused += 1
            continue
        entries[s] = {"key": key, "file": f"{base}/{target.name}", "intraday": fine}
        jobs.append((str(store.root), s, base, fine, cfg.model_dump(mode="json"), str(target)))

    if jobs:
        with engine_scope(engine or ExecutionConfig(workers=workers)) as eng:
            results = eng.map(_build_one, jobs, label="features", progress=progress)
        for s, meta in results:
            entries[s].update(meta)

    manifest = {
        "format": "tradeformer-features",
        "feature_version": FEATURE_VERSION,
        "tradeformer_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": str(store.root),
        "timeframe": base,
        "config": cfg.model_dump(mode="json"),
        "config_fingerprint": cfg_fp,
        "columns": list(CLASSICAL_COLUMNS),
        "label_columns": label_columns(cfg.horizons),
        "warmup_bars": WARMUP_BARS,
        "symbols": {**old_syms, **entries},
        "last_build": {"computed": len(jobs), "reused": reused},
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    os.replace(tmp, out / MANIFEST)
    return manifest


def _read_manifest(out: Path) -> dict:
    p = out / MANIFEST
    return json.loads(p.read_text()) if p.exists() else {}


def load_features(out_dir: str | Path, symbol: str) -> pd.DataFrame:
    """Read one symbol's feature table from a build directory."""
    m = _read_manifest(Path(out_dir))
    if not m:
        raise StageError(f"{out_dir}: no feature manifest; run `tradeformer features build`")
    return pd.read_parquet(Path(out_dir) / m["symbols"][symbol]["file"])
