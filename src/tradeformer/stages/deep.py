"""Stage `deep`: every member on every fold's training rows (early stopping on its validation
rows); the validation (out-of-fold) predictions, the last fold's members as the final ones,
their test predictions and in-sample metrics -> deep/, oof.parquet."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from tradeformer.config import ExperimentConfig, model_training
from tradeformer.dataset.calendar import Fold
from tradeformer.dataset.universe import Scaler, Universe
from tradeformer.execution.memory import trim_heap
from tradeformer.models import build_model
from tradeformer.models.registry import model_spec
from tradeformer.models.seeds import SeedAverage
from tradeformer.stages.artifacts import FINAL, PREDICTIONS, save_members, save_predictions
from tradeformer.stages.context import RunContext
from tradeformer.training.distributed import is_main
from tradeformer.training.frames import oof_frame
from tradeformer.training.metrics import direction_metrics
from tradeformer.training.prediction import predict, predict_models
from tradeformer.training.trainer import train_model

log = logging.getLogger(__name__)
Members = dict[str, tuple[str, torch.nn.Module]]  # {name: (registry kind, model)}


def fit_member(
    cfg: ExperimentConfig,
    name: str,
    u: Universe,
    rows: tuple[np.ndarray, np.ndarray],
    scaler: Scaler,
    *,
    seed: int,
    out_dir: Path,
    progress: bool = True,
    label: str = "",
) -> tuple[torch.nn.Module, list[dict]]:
    """One member trained on `rows` = (train, validation) with early stopping on the
    validation rows: the model (best epoch's weights) and its epoch history. With
    `training.seeds` = k > 1 the member is k copies trained from seeds seed, seed + 1, ...
    (a network: a `SeedAverage`; the boosted member: k booster sets), their forecasts
    averaged."""
    choice = cfg.models[name]
    tcfg = model_training(cfg.training, choice)
    seeds = [seed + i for i in range(tcfg.seeds)]
    over = dict(
        choice.overrides,
        embed_dim=u.embedding.shape[1],
        lookback=cfg.training.lookback,
        context_dim=u.context.shape[1],
    )
    kind = cfg.member_kind(name)
    tr, va = rows
    if model_spec(kind).tabular:
        t0 = time.perf_counter()
        model = build_model(kind, choice.preset, **over)
        history = model.fit(u, tr, va, seeds=tuple(seeds), progress=progress, label=label)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.json").write_text(json.dumps(history, indent=2))
        fit = {"seconds": time.perf_counter() - t0, "train_samples": len(tr), "device": "cpu"}
        (out_dir / "fit.json").write_text(json.dumps(fit, indent=2))
        ics = ", ".join(f"h{h['horizon']} {h['val_rank_ic']:+.4f}" for h in history)
        log.info("%s: best val rank IC %s", label, ics)
        return model, history
    nets, history = [], []
    for i, s in enumerate(seeds):
        torch.manual_seed(s)  # initial weights: seeded too
        net = build_model(kind, choice.preset, **over)
        where = out_dir if len(seeds) == 1 else out_dir / f"seed{i}"
        tag = label if len(seeds) == 1 else f"{label} seed {i}"
        net, hist = train_model(
            net, u, tr, va, tcfg, scaler, seed=s, out_dir=where, progress=progress, label=tag
        )
        nets.append(net)
        history += [dict(h, seed=s) for h in hist] if len(seeds) > 1 else hist
    return (nets[0] if len(nets) == 1 else SeedAverage(nets)), history


def fit_fold_models(
    cfg: ExperimentConfig,
    u: Universe,
    fold: Fold,
    *,
    out_dir: Path,
    progress: bool = True,
    log_level: int = logging.INFO,
) -> tuple[Members, Scaler, dict]:
    """Every member on one fold's training rows: the members, the train-slice scaler and
    their validation predictions (each member's summary logged at `log_level`)."""
    tr = u.rows_between(fold.train_start, fold.train_end)
    va = u.rows_between(fold.val_start, fold.val_end)
    norm = cfg.normalization
    scaler = Scaler.fit(u, tr, norm.scaler, norm.clip)
    members, preds = {}, {}
    seed = cfg.seed + 1000 * fold.index
    for name in cfg.models:
        model, hist = fit_member(
            cfg,
            name,
            u,
            (tr, va),
            scaler,
            seed=seed,
            out_dir=out_dir / name,
            progress=progress,
            label=f"fold {fold.index} {name}",
        )
        trim_heap()  # the fit's freed memory (a booster's bins, a network's steps)
        preds[name] = predict(model, u, va, cfg.training.lookback, scaler)
        members[name] = (cfg.member_kind(name), model)
        log.log(
            log_level,
            "fold %d %s: %s train / %s val samples, %d entries, best val rank IC %.4f",
            fold.index,
            name,
            f"{len(tr):,}",
            f"{len(va):,}",
            len(hist),
            max(h.get("val_rank_ic", float("nan")) for h in hist),
        )
    return members, scaler, preds


def _train_period_metrics(ctx: RunContext, members: Members, scaler: Scaler) -> dict:
    """In-sample metrics of the final members on a fixed slice of their training rows."""
    u, last, hi = ctx.data.universe, ctx.data.calendar.folds[-1], ctx.horizon_index
    rows = u.rows_between(last.train_start, last.train_end)
    rows = rows[:: max(1, len(rows) // 4000)]
    out = {}
    for name, (_, model) in members.items():
        p = predict(model, u, rows, ctx.cfg.training.lookback, scaler)
        out[name] = direction_metrics(p["dir_prob"][:, hi], u.direction[rows, hi])
    return out


def run(ctx: RunContext) -> None:
    cfg, u, calendar = ctx.cfg, ctx.data.universe, ctx.data.calendar
    parts, oof_parts = {}, []
    for fold in calendar.folds:
        members, scaler, preds = fit_fold_models(
            cfg, u, fold, out_dir=ctx.run_dir / "deep" / f"fold{fold.index}", progress=ctx.progress
        )
        va = u.rows_between(fold.val_start, fold.val_end)
        parts[f"fold{fold.index}"] = (va, preds)
        oof_parts.append((fold.index, va, preds))
        if (on_fold := ctx.options.get("on_fold")) is not None:  # tuning: report, maybe prune
            on_fold(fold.index, oof_frame(u, oof_parts))
    if not is_main():  # in a process group, rank 0 writes the stage's artefacts
        return
    if ctx.options.get("oof_only"):  # tuning: validation folds only, the test period unread
        oof_frame(u, oof_parts).to_parquet(ctx.run_dir / "oof.parquet", index=False)
        return
    test_rows = u.rows_between(calendar.test_start, calendar.test_end, labeled=False)
    models = [m for _, m in members.values()]
    outs = predict_models(models, u, test_rows, cfg.training.lookback, scaler)
    parts["test"] = (test_rows, dict(zip(members, outs, strict=True)))
    save_members(ctx.run_dir / FINAL, members, scaler)
    save_predictions(ctx.run_dir / PREDICTIONS, parts)
    train = _train_period_metrics(ctx, members, scaler)
    (ctx.run_dir / "deep" / "train_metrics.json").write_text(json.dumps(train, indent=2))
    oof_frame(u, oof_parts).to_parquet(ctx.run_dir / "oof.parquet", index=False)
    fits = collect_fits(ctx.run_dir / "deep")
    (ctx.run_dir / "deep" / "fits.json").write_text(json.dumps(fits, indent=2))


def collect_fits(deep_dir: Path) -> list[dict]:
    """Every member fit's `fit.json` (seconds, samples/s, input wait, peak memory) with its
    fold, member and seed, in fold order."""
    out = []
    for path in sorted(deep_dir.glob("fold*/*/**/fit.json")):
        parts = path.relative_to(deep_dir).parts
        seed = next((int(p[4:]) for p in parts[2:-1] if p.startswith("seed")), 0)
        fold = int(parts[0][4:])
        out.append({"fold": fold, "member": parts[1], "seed": seed, **json.loads(path.read_text())})
    return sorted(out, key=lambda r: (r["fold"], r["member"], r["seed"]))


def fold_parts(parts: dict) -> list[tuple[int, np.ndarray, dict]]:
    """The `foldK` entries of `load_predictions` as (k, rows, predictions), in fold order."""
    return [(int(k[4:]), rows, p) for k, (rows, p) in parts.items() if k.startswith("fold")]
