"""The `data` stage: the config's bars as a store, the walk-forward calendar, the classical
features, the embeddings and the universe the networks read (every step cached by content).

`prepare_data` builds (or finds) everything and records it in the run directory's
`data.json`; `open_prepared` reopens the universe a later stage reads from that record,
without recomputing or rewriting anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tradeformer.config import ExperimentConfig
from tradeformer.data import BarStore, sample_path
from tradeformer.data.schema import TIMESTAMP, Timeframe
from tradeformer.data.sources import resolve_store
from tradeformer.dataset.arrays import ArrayStore
from tradeformer.dataset.calendar import Calendar, make_calendar
from tradeformer.dataset.cross_section import apply_cross_section
from tradeformer.dataset.holdout import split_holdout
from tradeformer.dataset.table import write_table
from tradeformer.dataset.universe import Universe, load_universe
from tradeformer.errors import ConfigError, StageError
from tradeformer.execution import Engine, engine_scope
from tradeformer.features.columns import WARMUP_BARS
from tradeformer.features.foundation import build_embeddings
from tradeformer.features.foundation.local import LocalEncoderConfig
from tradeformer.features.pipeline import build_features

log = logging.getLogger(__name__)
LabelHook = Callable[[Universe, Calendar], None]
DATA_RECORD = "data.json"


def stable_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class PreparedData:
    """Everything the stages after `data` read: the universe, its calendar and provenance."""

    store: BarStore
    timeframe: str
    symbols: list[str]
    horizons: tuple[int, ...]
    calendar: Calendar
    universe: Universe
    emb_info: dict
    local_dir: Path | None
    data_fingerprint: str
    features_dir: Path | None = None
    embeddings_dir: Path | None = None
    heldout: list[str] = field(default_factory=list)
    repairs: list[dict] = field(default_factory=list)

    def record(self) -> dict:
        """What `data.json` holds: enough to reopen the universe without rebuilding it."""
        return {
            "store": str(self.store.root),
            "timeframe": self.timeframe,
            "symbols": list(self.symbols),
            "horizons": list(self.horizons),
            "calendar": self.calendar.to_dict(),
            "embedding": self.emb_info,
            "local_model_dir": str(self.local_dir) if self.local_dir else None,
            "data_fingerprint": self.data_fingerprint,
            "features_dir": str(self.features_dir),
            "embeddings_dir": str(self.embeddings_dir) if self.embeddings_dir else None,
            "heldout_symbols": list(self.heldout),
            "repairs": list(self.repairs),
        }


def prepare_store(cfg: ExperimentConfig, engine: Engine | None = None) -> tuple[BarStore, str]:
    """The config's bars as a validated store (imported once into the cache, on `engine`)."""
    src = [sample_path() if s == "bundled" else Path(s) for s in cfg.data.sources]
    store = resolve_store(
        src,
        cfg.cache_dir,
        adjust=cfg.data.adjust,
        symbols=cfg.data.symbols,
        min_bars=cfg.data.min_bars,
        policy=cfg.data.policy,
        progress=True,
        engine=engine,
    )
    return store, Timeframe.parse(cfg.data.timeframe or store.default_timeframe()).value


def _dates(store: BarStore, tf: str, symbols: list[str], lookback: int) -> np.ndarray:
    first = WARMUP_BARS + lookback - 1
    out = [store.read(s, tf)[TIMESTAMP].to_numpy()[first:] for s in symbols]
    return np.concatenate(out).astype("datetime64[ns]")


def _embeddings(
    cfg, store, tf, symbols, calendar, progress, engine
) -> tuple[Path | None, dict, Path | None]:
    """(cache folder, provenance, local encoder folder) of the configured embedding backend."""
    if cfg.embedding.backend == "none":
        return None, {"backend": "none", "dim": 0}, None
    cache, L = Path(cfg.cache_dir), cfg.training.lookback
    emb_train_end = calendar.folds[0].train_end  # the encoder never sees a validation date
    seed = cfg.seed if cfg.embedding.seed is None else cfg.embedding.seed
    em = build_embeddings(
        store.root,
        cache / "embeddings",
        cfg.embedding.backend,
        timeframe=tf,
        symbols=symbols,
        lookback=L,
        batch_size=cfg.embedding.batch_size,
        train_end=emb_train_end,
        local_config=LocalEncoderConfig(lookback=L, steps=cfg.embedding.local_steps, seed=seed),
        model_id=cfg.embedding.model_id,
        tokenizer_id=cfg.embedding.tokenizer_id,
        progress=progress,
        engine=engine,
    )
    info = {k: em[k] for k in ("backend", "dim", "key", "describe")}
    info["train_end"] = str(emb_train_end)
    local = None
    if em["backend"] == "local":
        local = cache / "embeddings" / "local-models" / em["describe"]["data_key"]
    return Path(em["path"]), info, local


def _array_store(
    cfg: ExperimentConfig, data_fp: str, emb_info: dict, symbols, features_dir
) -> ArrayStore:
    """Where this universe's memory-mapped arrays live: one folder per content key (the bars,
    the feature build, which names the features config and labels, the embeddings)."""
    parts = [data_fp, Path(features_dir).name, emb_info.get("key"), list(symbols)]
    key = stable_hash([*parts, cfg.embedding.storage, list(cfg.features.horizons)])
    return ArrayStore(Path(cfg.cache_dir) / "universe" / key)


def _finish_universe(cfg, u: Universe, calendar: Calendar, label_hook) -> Universe:
    """The label hook (tests) and the configured cross-sectional transforms."""
    if label_hook is not None:
        label_hook(u, calendar)
    if cfg.target.kind != "raw" or cfg.normalization.cross_sectional:
        u = apply_cross_section(u, cfg.target, cfg.normalization)
    return u


def _calendar(cfg: ExperimentConfig, store: BarStore, tf: str, symbols: list[str]) -> Calendar:
    horizons = cfg.features.horizons
    calendar = make_calendar(
        _dates(store, tf, symbols, cfg.training.lookback), cfg.calendar, max(horizons)
    )
    log.info(
        "calendar: %d folds, test %s .. %s, purge %d + embargo %d bars",
        len(calendar.folds),
        calendar.test_start.date(),
        calendar.test_end.date(),
        calendar.purge_bars,
        calendar.embargo_bars,
    )
    return calendar


def prepare_data(
    cfg: ExperimentConfig,
    *,
    progress: bool = True,
    label_hook: LabelHook | None = None,
) -> PreparedData:
    """Store, calendar, features, embeddings and the universe (all cached: a rerun is cheap).
    The per-symbol stages run on the config's `execution` engine."""
    with engine_scope(cfg.execution) as engine:
        store, tf = prepare_store(cfg, engine)
        symbols, heldout = split_holdout(
            cfg.data.symbols or store.symbols(tf), cfg.data.holdout_fraction, cfg.data.holdout_seed
        )
        if not symbols:
            raise ConfigError("data.holdout_fraction leaves no symbol to train on")
        calendar = _calendar(cfg, store, tf, symbols)
        feat_cfg = cfg.features.model_copy(update={"timeframe": tf})
        key = stable_hash([str(store.root), feat_cfg.fingerprint()])
        fdir = Path(cfg.cache_dir) / "features" / key
        fman = build_features(
            store.root, fdir, feat_cfg, symbols=symbols, progress=progress, engine=engine
        )
        emb_dir, emb_info, local_dir = _embeddings(
            cfg, store, tf, symbols, calendar, progress, engine
        )
        data_fp = store.fingerprint(tf, symbols)
        arrays = _array_store(cfg, data_fp, emb_info, symbols, fdir)
        u = load_universe(
            store.root,
            fdir,
            emb_dir,
            timeframe=tf,
            symbols=symbols,
            horizons=tuple(cfg.features.horizons),
            lookback=cfg.training.lookback,
            arrays=arrays,
            embedding_dtype=cfg.embedding.storage,
        )
        u.meta["arrays"] = arrays
        u = _finish_universe(cfg, u, calendar, label_hook)
        if cfg.write_dataset_table:
            key = stable_hash([data_fp, fman["config_fingerprint"], emb_info.get("key")])
            meta = {"embedding": emb_info, "data_fingerprint": data_fp}
            write_table(u, Path(cfg.cache_dir) / "dataset" / key, meta, engine=engine)
    log.info(
        "universe: %d symbols, %s samples, %d + %d features",
        len(symbols),
        f"{int(u.eligible.sum()):,}",
        u.context.shape[1],
        u.embedding.shape[1],
    )
    horizons = tuple(cfg.features.horizons)
    repairs = store.manifest.get("meta", {}).get("validation", {}).get("repairs", [])
    if repairs:
        log.info("data: %d repair(s) under the repair policy (listed in data.json)", len(repairs))
    return PreparedData(
        store,
        tf,
        symbols,
        horizons,
        calendar,
        u,
        emb_info,
        local_dir,
        data_fp,
        fdir,
        emb_dir,
        heldout,
        repairs,
    )


def save_prepared(data: PreparedData, run_dir: Path) -> None:
    (run_dir / DATA_RECORD).write_text(json.dumps(data.record(), indent=2))
    (run_dir / "calendar.json").write_text(json.dumps(data.calendar.to_dict(), indent=2))


def open_prepared(
    run_dir: Path, cfg: ExperimentConfig, label_hook: LabelHook | None = None
) -> PreparedData:
    """The universe of a run whose `data` stage has run, from its `data.json` (the cached
    features and embeddings are read, not rebuilt; a changed store is refused)."""
    path = Path(run_dir) / DATA_RECORD
    if not path.exists():
        raise StageError(f"{run_dir}: no {DATA_RECORD}; run the data stage first")
    r = json.loads(path.read_text())
    store = BarStore(Path(r["store"]))
    if store.fingerprint(r["timeframe"], r["symbols"]) != r["data_fingerprint"]:
        raise StageError(f"{run_dir}: the store changed since the data stage; rerun it")
    emb_dir = Path(r["embeddings_dir"]) if r["embeddings_dir"] else None
    for d in (Path(r["features_dir"]), emb_dir):
        if d is not None and not d.exists():
            raise StageError(f"{run_dir}: cached {d} is gone; rerun the data stage")
    horizons = tuple(r["horizons"])
    arrays = _array_store(
        cfg, r["data_fingerprint"], r["embedding"], r["symbols"], r["features_dir"]
    )
    u = load_universe(
        store.root,
        Path(r["features_dir"]),
        emb_dir,
        timeframe=r["timeframe"],
        symbols=r["symbols"],
        horizons=horizons,
        lookback=cfg.training.lookback,
        arrays=arrays,
        embedding_dtype=cfg.embedding.storage,
    )
    u.meta["arrays"] = arrays
    calendar = Calendar.from_dict(r["calendar"])
    u = _finish_universe(cfg, u, calendar, label_hook)
    local = Path(r["local_model_dir"]) if r["local_model_dir"] else None
    return PreparedData(
        store,
        r["timeframe"],
        r["symbols"],
        horizons,
        calendar,
        u,
        r["embedding"],
        local,
        r["data_fingerprint"],
        Path(r["features_dir"]),
        emb_dir,
        r.get("heldout_symbols", []),
        r.get("repairs", []),
    )
