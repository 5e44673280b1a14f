"""`tradeformer train`: data -> features -> embeddings -> walk-forward deep models (OOF) -> veto
-> test predictions -> bundle, all under `runs/<name>-<time>/`.

Stages: `data` (store, features, embeddings, the 541-D table), `deep` (folds, OOF and test
predictions of both models), `veto` (LightGBM on the OOF rows), `bundle`; `all` runs them in
order, and a later stage can be run alone on an existing run directory.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from rich.console import Console

from tradeformer.bundle import save_bundle, weights_hash
from tradeformer.config import ExperimentConfig, model_training
from tradeformer.data import BarStore, sample_path
from tradeformer.data.schema import TIMESTAMP, Timeframe
from tradeformer.data.sources import resolve_store
from tradeformer.dataset.calendar import Calendar, make_calendar
from tradeformer.dataset.cross_section import apply_cross_section, date_codes
from tradeformer.dataset.table import write_table
from tradeformer.dataset.universe import Scaler, Universe, load_universe
from tradeformer.features.columns import WARMUP_BARS
from tradeformer.features.foundation import build_embeddings
from tradeformer.features.foundation.local import LocalEncoderConfig
from tradeformer.features.pipeline import build_features
from tradeformer.models import build_model
from tradeformer.training.ensemble import decide, effective_weights, ensemble_return
from tradeformer.training.metrics import direction_metrics, rank_ic, veto_metrics
from tradeformer.training.trainer import predict, predict_models, train_model
from tradeformer.training.veto import (
    coverage_threshold,
    save_veto,
    train_veto,
    veto_feature_names,
    veto_features,
    veto_labels,
)

console = Console()
STAGES = ("data", "deep", "veto", "bundle")
LabelHook = Callable[[Universe, Calendar], None]


def _stable_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def prepare_store(cfg: ExperimentConfig) -> tuple[BarStore, str]:
    """The config's bars as a validated store (imported once into the cache)."""
    src = cfg.data.source
    store = resolve_store(
        sample_path() if src == "bundled" else Path(src),
        cfg.cache_dir,
        adjust=cfg.data.adjust,
        symbols=cfg.data.symbols,
        min_bars=cfg.data.min_bars,
        progress=True,
    )
    return store, Timeframe.parse(cfg.data.timeframe or store.default_timeframe()).value


def _dates(store: BarStore, tf: str, symbols: list[str], lookback: int) -> np.ndarray:
    first = WARMUP_BARS + lookback - 1
    out = [store.read(s, tf)[TIMESTAMP].to_numpy()[first:] for s in symbols]
    return np.concatenate(out).astype("datetime64[ns]")


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


def prepare_data(
    cfg: ExperimentConfig,
    *,
    progress: bool = True,
    log: Callable = print,
    label_hook: LabelHook | None = None,
) -> PreparedData:
    """Store, calendar, features, embeddings and the universe (all cached: a rerun is cheap)."""
    cache = Path(cfg.cache_dir)
    L = cfg.training.lookback
    store, tf = prepare_store(cfg)
    symbols = cfg.data.symbols or store.symbols(tf)
    horizons = tuple(cfg.features.horizons)
    calendar = make_calendar(_dates(store, tf, symbols, L), cfg.calendar, max(horizons))
    log(
        f"calendar: {len(calendar.folds)} folds, test {calendar.test_start.date()} .. "
        f"{calendar.test_end.date()}, purge {calendar.purge_bars} + embargo "
        f"{calendar.embargo_bars} bars"
    )
    feat_cfg = cfg.features.model_copy(update={"timeframe": tf})
    fdir = cache / "features" / _stable_hash([str(store.root), feat_cfg.fingerprint()])
    fman = build_features(store.root, fdir, feat_cfg, symbols=symbols, progress=progress)
    emb_dir, emb_info, local_dir = None, {"backend": "none", "dim": 0}, None
    if cfg.embedding.backend != "none":
        emb_train_end = calendar.folds[0].train_end  # the encoder never sees a validation date
        em = build_embeddings(
            store.root,
            cache / "embeddings",
            cfg.embedding.backend,
            timeframe=tf,
            symbols=symbols,
            lookback=L,
            batch_size=cfg.embedding.batch_size,
            train_end=emb_train_end,
            local_config=LocalEncoderConfig(
                lookback=L, steps=cfg.embedding.local_steps, seed=cfg.seed
            ),
            model_id=cfg.embedding.model_id,
            tokenizer_id=cfg.embedding.tokenizer_id,
            progress=progress,
        )
        emb_dir = Path(em["path"])
        emb_info = {
            "backend": em["backend"],
            "dim": em["dim"],
            "key": em["key"],
            "describe": em["describe"],
            "train_end": str(emb_train_end),
        }
        if em["backend"] == "local":
            local_dir = cache / "embeddings" / "local-models" / em["describe"]["data_key"]
    u = load_universe(
        store.root, fdir, emb_dir, timeframe=tf, symbols=symbols, horizons=horizons, lookback=L
    )
    data_fp = store.fingerprint(tf, symbols)
    if label_hook is not None:
        label_hook(u, calendar)
    if cfg.target.kind != "raw" or cfg.normalization.cross_sectional:
        u = apply_cross_section(u, cfg.target, cfg.normalization)
        log(
            f"cross-section: target {cfg.target.kind}, context {cfg.normalization.context}, "
            f"embedding {cfg.normalization.embedding}, market context "
            f"{'on' if cfg.normalization.market_context else 'off'}"
        )
    if cfg.write_dataset_table:
        write_table(
            u,
            cache
            / "dataset"
            / _stable_hash([data_fp, fman["config_fingerprint"], emb_info.get("key")]),
            {"embedding": emb_info, "data_fingerprint": data_fp},
        )
    log(
        f"universe: {len(symbols)} symbols, {int(u.eligible.sum()):,} samples, "
        f"{u.context.shape[1]} + {u.embedding.shape[1]} features"
    )
    return PreparedData(store, tf, symbols, horizons, calendar, u, emb_info, local_dir, data_fp)


def fit_fold_models(
    cfg: ExperimentConfig,
    u: Universe,
    fold,
    *,
    out_dir: Path,
    progress: bool = True,
    log: Callable = print,
) -> tuple[dict, Scaler, dict]:
    """Both deep models on one fold's training rows (early stopping on its validation rows):
    returns the models, the train-slice scaler and their validation predictions."""
    L = cfg.training.lookback
    tr = u.rows_between(fold.train_start, fold.train_end)
    va = u.rows_between(fold.val_start, fold.val_end)
    norm = cfg.normalization
    scaler = Scaler.fit(u, tr, norm.scaler, norm.clip)
    models, preds = {}, {}
    for name in ("timeformer", "tft"):
        choice = getattr(cfg.models, name)
        over = dict(
            choice.overrides,
            embed_dim=u.embedding.shape[1],
            lookback=L,
            context_dim=u.context.shape[1],
        )
        torch.manual_seed(cfg.seed + 1000 * fold.index)  # initial weights: seeded too
        model = build_model(name, choice.preset, **over)
        model, hist = train_model(
            model,
            u,
            tr,
            va,
            model_training(cfg.training, choice),
            scaler,
            seed=cfg.seed + 1000 * fold.index,
            out_dir=out_dir / name,
            progress=progress,
            label=f"fold {fold.index} {name}",
        )
        preds[name] = predict(model, u, va, L, scaler)
        models[name] = model
        log(
            f"fold {fold.index} {name}: {len(tr):,} train / {len(va):,} val samples, "
            f"{len(hist)} epochs, best val loss {min(h['val_loss'] for h in hist):.4f}, "
            f"best val rank IC {max(h.get('val_rank_ic', float('nan')) for h in hist):.4f}"
        )
    return models, scaler, preds


def run_training(
    cfg: ExperimentConfig,
    *,
    run_dir: Path | None = None,
    stages: tuple[str, ...] = STAGES,
    label_hook: LabelHook | None = None,
    progress: bool = True,
    quiet: bool = False,
) -> dict:
    """Run the selected stages; returns a summary with paths and metrics."""
    t_start = time.perf_counter()
    log = (lambda *a: None) if quiet else console.print
    if run_dir is None:
        run_dir = Path(cfg.runs_dir) / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    tcfg = cfg.training
    if tcfg.num_threads:  # CPU float reductions depend on the thread count: fix it up front
        torch.set_num_threads(tcfg.num_threads)
    L = tcfg.lookback

    # ---------------------------------------------------------------- data
    data = prepare_data(cfg, progress=progress, log=log, label_hook=label_hook)
    (run_dir / "calendar.json").write_text(json.dumps(data.calendar.to_dict(), indent=2))
    u, calendar, horizons = data.universe, data.calendar, data.horizons
    if stages == ("data",):
        return {"run_dir": str(run_dir)}

    # ---------------------------------------------------------------- deep models
    hi = horizons.index(cfg.ensemble.horizon)
    oof_parts, models, scaler = [], {}, None
    train_metrics = {}
    for fold in calendar.folds:
        models, scaler, preds = fit_fold_models(
            cfg, u, fold, out_dir=run_dir / "deep" / f"fold{fold.index}", progress=progress, log=log
        )
        va = u.rows_between(fold.val_start, fold.val_end)
        oof_parts.append((fold.index, va, preds))
    # in-sample metrics of the last fold's models on a fixed slice of their training rows
    last = calendar.folds[-1]
    tr_rows = u.rows_between(last.train_start, last.train_end)
    tr_rows = tr_rows[:: max(1, len(tr_rows) // 4000)]
    for name, model in models.items():
        p = predict(model, u, tr_rows, L, scaler)
        train_metrics[name] = direction_metrics(p["dir_prob"][:, hi], u.direction[tr_rows, hi])

    test_rows = u.rows_between(calendar.test_start, calendar.test_end, labeled=False)
    outs = predict_models(list(models.values()), u, test_rows, L, scaler)
    test_preds = dict(zip(models, outs, strict=True))
    oof = _oof_frame(u, oof_parts, horizons)
    oof.to_parquet(run_dir / "oof.parquet", index=False)

    # ---------------------------------------------------------------- veto
    codes = date_codes(u.timestamps)
    names = veto_feature_names(horizons, u.embedding.shape[1], u.context_names)
    x_parts, y_parts = [], []
    for _, rows, preds in oof_parts:
        x_parts.append(
            veto_features(u.context[rows], u.embedding[rows], preds["timeformer"], preds["tft"], hi)
        )
        y_parts.append(
            veto_labels(
                preds["timeformer"], preds["tft"], u.y_dir[rows], hi, cfg.ensemble, codes[rows]
            )
        )
    x_tr, y_tr = np.concatenate(x_parts[:-1]), np.concatenate(y_parts[:-1])
    booster = train_veto(x_tr, y_tr, x_parts[-1], y_parts[-1], names, cfg.veto, cfg.seed)
    veto_path = save_veto(booster, run_dir / "veto")
    x_test = veto_features(
        u.context[test_rows],
        u.embedding[test_rows],
        test_preds["timeformer"],
        test_preds["tft"],
        hi,
    )
    test_veto = booster.predict(x_test, num_iteration=booster.best_iteration or None)
    valid_veto = booster.predict(x_parts[-1], num_iteration=booster.best_iteration or None)
    threshold = coverage_threshold(valid_veto, cfg.veto)

    decisions = decide(
        test_preds["timeformer"]["ret"][:, hi],
        test_preds["tft"]["ret"][:, hi],
        test_veto,
        cfg.ensemble,
        threshold,
        codes[test_rows],
    )
    frame = build_test_frame(u, test_rows, test_preds, decisions, cfg)
    frame.to_parquet(run_dir / "test_predictions.parquet", index=False)

    metrics = _metrics(
        u,
        oof_parts,
        test_rows,
        test_preds,
        test_veto,
        valid_veto,
        y_parts[-1],
        horizons,
        hi,
        cfg,
        booster,
        threshold,
    )
    metrics["train_period"] = train_metrics
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))

    # ---------------------------------------------------------------- bundle
    bundle_dir = save_bundle(
        run_dir / "bundle",
        timeformer=models["timeformer"],
        tft=models["tft"],
        veto_path=veto_path,
        scaler=scaler,
        config=cfg.model_dump(mode="json"),
        embedding=data.emb_info,
        local_model_dir=data.local_dir,
        horizons=horizons,
        lookback=L,
        data_fingerprint=data.data_fingerprint,
        calendar=calendar.to_dict(),
        metrics=metrics,
        veto_features=names,
        variable_names=models["tft"].variable_names,
        decision={
            "threshold": threshold,
            "target": cfg.target.kind,
            "combine": cfg.ensemble.combine,
            "cross_sectional": _cross_sectional(cfg),
            "universe": list(data.symbols),
            "context_columns": list(u.context_names),
        },
    )
    summary = {
        "run_dir": str(run_dir),
        "bundle": str(bundle_dir),
        "weights_hash": weights_hash(bundle_dir),
        "metrics": metrics,
        "seconds": time.perf_counter() - t_start,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary


def _cross_sectional(cfg: ExperimentConfig) -> bool:
    """Whether a prediction needs the date's cross-section of the training universe (its
    inputs or its ensemble are per-date transforms; a cross-sectional target alone does not)."""
    return cfg.normalization.cross_sectional or cfg.ensemble.combine == "ranks"


def next_bar_returns(u: Universe) -> np.ndarray:
    """log(close[t+1] / close[t]) within each symbol (NaN at a symbol's last bar): what a
    position held from the close of t to the close of t+1 earns (evaluation only)."""
    close = u.ohlcv[:, 3]
    out = np.full(len(close), np.nan)
    out[:-1] = np.log(close[1:] / close[:-1])
    out[u.offsets[1:] - 1] = np.nan  # never across a symbol boundary
    return out


def build_test_frame(
    u: Universe, rows: np.ndarray, preds: dict, decisions: pd.DataFrame, cfg: ExperimentConfig
) -> pd.DataFrame:
    """One row per test bar: the decision (spec fields), every model's outputs at every
    horizon, the ensemble at every horizon, and the realised outcomes (for evaluation)."""
    df = decisions.copy()
    df.insert(0, "symbol", np.asarray(u.symbols)[u.symbol_of[rows]])
    df.insert(0, "timestamp", pd.DatetimeIndex(u.timestamps[rows].astype("M8[ns]")))
    df["close"] = u.ohlcv[rows, 3]
    w = effective_weights(cfg.ensemble)
    codes = date_codes(u.timestamps[rows])
    for j, h in enumerate(u.horizons):
        for name, p in preds.items():
            df[f"{name}_ret_{h}"] = p["ret"][:, j]
            df[f"{name}_prob_{h}"] = p["dir_prob"][:, j]
            df[f"{name}_std_{h}"] = p["uncertainty"][:, j]
        df[f"ensemble_ret_{h}"] = ensemble_return(
            preds["timeformer"]["ret"][:, j], preds["tft"]["ret"][:, j], cfg.ensemble, codes
        )
        df[f"ensemble_prob_{h}"] = (
            w["timeformer"] * preds["timeformer"]["dir_prob"][:, j]
            + w["tft"] * preds["tft"]["dir_prob"][:, j]
        )
        df[f"ret_{h}"] = u.ret[rows, j]
        df[f"dir_{h}"] = u.direction[rows, j]
        if u.target_ret is not None:
            df[f"target_{h}"] = u.target_ret[rows, j]
            df[f"target_dir_{h}"] = u.target_dir[rows, j]
    df["next_ret_1"] = next_bar_returns(u)[rows]
    return df


def _oof_frame(u: Universe, parts, horizons) -> pd.DataFrame:
    frames = []
    for k, rows, preds in parts:
        df = pd.DataFrame(
            {
                "fold": k,
                "row": rows,
                "symbol": np.asarray(u.symbols)[u.symbol_of[rows]],
                "timestamp": pd.DatetimeIndex(u.timestamps[rows].astype("M8[ns]")),
            }
        )
        for name, p in preds.items():
            for j, h in enumerate(horizons):
                df[f"{name}_ret_{h}"] = p["ret"][:, j]
                df[f"{name}_prob_{h}"] = p["dir_prob"][:, j]
        for j, h in enumerate(horizons):
            df[f"ret_{h}"] = u.ret[rows, j]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _metrics(
    u,
    oof_parts,
    test_rows,
    test_preds,
    test_veto,
    valid_veto,
    valid_y,
    horizons,
    hi,
    cfg,
    booster,
    threshold,
) -> dict:
    """Training-time summary: direction metrics against the target direction, pooled rank
    IC against the target, for each model and the ensemble (the full, CI-bearing evaluation
    is `tradeformer evaluate`)."""
    y_ret, y_dir = u.y_ret, u.y_dir

    def ens_of(preds, rows):
        p = (preds["timeformer"]["ret"][:, hi], preds["tft"]["ret"][:, hi])
        return ensemble_return(*p, cfg.ensemble, date_codes(u.timestamps[rows]))

    def block(rows, preds) -> dict:
        out = {}
        for name, p in preds.items():
            out[name] = {
                f"h{h}": {
                    **direction_metrics(p["dir_prob"][:, j], y_dir[rows, j]),
                    "rank_ic": rank_ic(p["ret"][:, j], y_ret[rows, j]),
                }
                for j, h in enumerate(horizons)
            }
        ens = ens_of(preds, rows)
        out["ensemble"] = {
            **direction_metrics((ens > 0).astype(float), y_dir[rows, hi]),
            "rank_ic": rank_ic(ens, y_ret[rows, hi]),
        }
        return out

    oof_rows = np.concatenate([r for _, r, _ in oof_parts])
    oof_preds = {
        n: {k: np.concatenate([p[n][k] for _, _, p in oof_parts]) for k in oof_parts[0][2][n]}
        for n in ("timeformer", "tft")
    }
    labeled = np.isfinite(u.ret[test_rows, hi])
    trows = test_rows[labeled]
    tpreds = {n: {k: v[labeled] for k, v in p.items()} for n, p in test_preds.items()}
    last_rows, last = oof_parts[-1][1], oof_parts[-1][2]
    return {
        "horizon": cfg.ensemble.horizon,
        "target": cfg.target.kind,
        "oof": block(oof_rows, oof_preds),
        "test": block(trows, tpreds),
        "veto": {
            "best_iteration": int(booster.best_iteration or booster.current_iteration()),
            "threshold": threshold,
            "coverage_target": cfg.veto.coverage,
            "valid_fold_auc": direction_metrics(valid_veto, valid_y)["auc"],
            "valid_fold": veto_metrics(
                valid_veto >= threshold, ens_of(last, last_rows) > 0, y_dir[last_rows, hi]
            ),
            "test": veto_metrics(
                test_veto[labeled] >= threshold, ens_of(tpreds, trows) > 0, y_dir[trows, hi]
            ),
        },
    }
