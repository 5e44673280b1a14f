"""Bars into stores: `write_store` (validated bars + derived timeframes, what `data import` and
`data download` write) and `resolve_store`, the one way to turn a `--data` argument into a
store: the store itself, or a file/folder of CSV/Parquet bars validated and imported once into
the cache (what `train`, `predict`, `serve`, `features` and `demo` all call)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tradeformer.data.loading import LoadedBars, data_files, load_bars
from tradeformer.data.resample import resample
from tradeformer.data.schema import Timeframe
from tradeformer.data.sessions import DEFAULT_CALENDAR
from tradeformer.data.store import MANIFEST, BarStore
from tradeformer.errors import DataError, NotFoundError
from tradeformer.execution import Engine

DEFAULT_CACHE = ".tradeformer_cache"


def is_store(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def _source_key(paths: list[Path], files: list[Path], options: dict) -> str:
    """Changes when any file is added, removed, resized or touched, or an option changes."""
    stats = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    where = [str(p.resolve()) for p in paths]
    blob = json.dumps([where[0] if len(where) == 1 else where, stats, options], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def derived_timeframes(
    loaded: LoadedBars, targets: Iterable[str], calendar: str
) -> dict[str, dict[str, pd.DataFrame]]:
    """The loaded bars resampled to each coarser target timeframe (finer ones are skipped)."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    order = [t.value for t in Timeframe]
    for tf in targets:
        for sym, frame in loaded.bars.items():
            src = loaded.timeframes[sym]
            if src not in order or order.index(tf) <= order.index(src):
                continue
            out.setdefault(tf, {})[sym] = resample(frame, tf, source=src, calendar=calendar)
    return out


def write_store(
    loaded: LoadedBars,
    out: str | Path,
    *,
    source: str,
    derive: Iterable[str] = (),
    calendar: str = DEFAULT_CALENDAR,
) -> BarStore:
    """Validated bars (one base timeframe) plus coarser `derive` timeframes as a store, with
    the provenance and validation report in its manifest."""
    tfs = set(loaded.timeframes.values())
    if len(tfs) != 1:
        raise DataError(f"symbols have different timeframes {sorted(tfs)}: import them separately")
    base = tfs.pop()
    by_tf = {base: loaded.bars, **derived_timeframes(loaded, derive, calendar)}
    meta = {
        "source": source,
        "adjusted": loaded.adjusted,
        "calendar": calendar,
        "validation": loaded.report.to_dict(),
    }
    store = BarStore(out)
    store.write_many(by_tf, meta=meta, base_timeframe=base)
    return store


def import_bars(
    path: str | Path | list[str | Path],
    out: str | Path,
    *,
    adjust: bool = False,
    symbols: Iterable[str] | None = None,
    min_bars: int = 120,
    policy: str = "reject",
    progress: bool = False,
    engine: Engine | None = None,
) -> BarStore:
    """Validate the bars at `path` (one or several folders/files) under `policy` and write
    them, one timeframe, as a store (files read and symbols validated on `engine`)."""
    loaded = load_bars(
        path,
        adjust=adjust,
        symbols=symbols,
        min_bars=min_bars,
        policy=policy,
        progress=progress,
        engine=engine,
    )
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    return write_store(loaded, out, source=", ".join(str(p) for p in paths))


def resolve_store(
    path: str | Path | list[str | Path],
    cache_dir: str | Path = DEFAULT_CACHE,
    *,
    adjust: bool = False,
    symbols: Iterable[str] | None = None,
    min_bars: int = 120,
    policy: str = "reject",
    progress: bool = False,
    engine: Engine | None = None,
) -> BarStore:
    """The store at `path`, or the bars at `path` (one or several folders/files, imported
    together) validated under `policy` into `cache_dir/stores/<key>` (kept until the files or
    options change). Raises NotFoundError / InputError / DataValidationError with the reason."""
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    if not paths:
        raise NotFoundError("no data source given")
    for p in paths:
        if not p.exists():
            raise NotFoundError(f"{p}: no such file or directory (want a bar store or bars)")
    stores = [p for p in paths if is_store(p)]
    if stores and len(paths) > 1:
        raise DataError(f"{stores[0]} is a bar store: combine folders of bars, not stores")
    if stores:
        return BarStore(stores[0])
    files = [f for p in paths for f in data_files(p)]  # no bars: an error naming the suffixes
    sym_list = sorted(symbols) if symbols else None
    options = {"adjust": adjust, "symbols": sym_list, "min_bars": min_bars}
    if policy != "reject":  # the reject policy's key is unchanged (existing caches stay valid)
        options["policy"] = policy
    root = Path(cache_dir) / "stores" / _source_key(paths, files, options)
    if is_store(root):
        return BarStore(root)
    return import_bars(
        [str(p) for p in paths] if len(paths) > 1 else paths[0],
        root,
        adjust=adjust,
        symbols=sym_list,
        min_bars=min_bars,
        policy=policy,
        progress=progress,
        engine=engine,
    )
