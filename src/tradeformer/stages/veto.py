"""Stage `veto`: LightGBM on the OOF rows (earlier folds train it, the last fold stops it and
sets a coverage threshold), the test decisions and the run's metrics -> veto/,
test_predictions.parquet, metrics.json."""

from __future__ import annotations

import json

import numpy as np
import yaml

from tradeformer.dataset.cross_section import date_codes
from tradeformer.stages.artifacts import FINAL, PREDICTIONS, load_members, load_predictions, require
from tradeformer.stages.context import RunContext
from tradeformer.stages.deep import fold_parts
from tradeformer.training.ensemble import decide, member_outputs
from tradeformer.training.frames import build_test_frame
from tradeformer.training.run_metrics import concat_parts, run_metrics
from tradeformer.training.veto import (
    coverage_threshold,
    save_veto,
    train_veto,
    veto_feature_names,
    veto_features,
    veto_labels,
)
from tradeformer.training.weights import ic_values, oof_rank_ic_stats, resolve_weights

VETO_RECORD = "veto/veto.json"


def member_diagnostics(ctx: RunContext) -> dict[str, tuple[str, ...]]:
    """{member: the diagnostics its class hands the veto}, in ensemble order."""
    members, _ = load_members(require(ctx.run_dir, FINAL, "deep"))
    return {name: model.veto_diagnostics for name, (_, model) in members.items()}


def _predict_in_chunks(booster, features, rows, preds, best, chunk: int = 1 << 16):
    """The booster's probabilities of `rows`, their feature matrix built `chunk` rows at a
    time (each row's prediction depends on its own features only)."""
    out = []
    for a in range(0, len(rows), chunk):
        part = {m: {k: v[a : a + chunk] for k, v in p.items()} for m, p in preds.items()}
        out.append(booster.predict(features(rows[a : a + chunk], part), num_iteration=best))
    return np.concatenate(out) if out else np.zeros(0)


def choose_weights(ctx: RunContext, folds, codes: np.ndarray) -> dict:
    """Each member's OOF rank IC at the ensemble horizon with its NW t, and (weighting
    oof_rank_ic / oof_significant) the weights they give, written into ensemble_weights.json
    and the run's config.yaml; the context's config carries them to every later stage."""
    u, hi = ctx.data.universe, ctx.horizon_index
    stats = oof_rank_ic_stats(folds, u.y_ret, codes, hi, lags=ctx.cfg.ensemble.horizon)
    ens = resolve_weights(ctx.cfg.ensemble, stats)
    if ens is not ctx.cfg.ensemble:
        ctx.cfg = ctx.cfg.model_copy(update={"ensemble": ens})
        dump = yaml.safe_dump(ctx.cfg.model_dump(mode="json"), sort_keys=False)
        (ctx.run_dir / "config.yaml").write_text(dump)
    record = {
        "weighting": ens.weighting,
        "horizon": ens.horizon,
        "oof_rank_ic": ic_values(stats),
        "oof_rank_ic_nw_t": {m: s["t"] if np.isfinite(s["t"]) else None for m, s in stats.items()},
        "weights": ens.weights,
        "average": ens.average,
    }
    (ctx.run_dir / "ensemble_weights.json").write_text(json.dumps(record, indent=2))
    return record


def run(ctx: RunContext) -> None:
    u, hi = ctx.data.universe, ctx.horizon_index
    parts = load_predictions(require(ctx.run_dir, PREDICTIONS, "deep"))
    folds = fold_parts(parts)
    diags = member_diagnostics(ctx)
    codes = date_codes(u.timestamps)
    weights = choose_weights(ctx, folds, codes)
    cfg = ctx.cfg

    def features(rows, preds):
        return veto_features(u.context[rows], u.embedding[rows], preds, diags, hi)

    ys = [veto_labels(p, u.y_dir[rows], hi, cfg.ensemble, codes[rows]) for _, rows, p in folds]
    names = veto_feature_names(u.horizons, u.embedding.shape[1], diags, u.context_names)
    # one matrix for the earlier folds' rows (not one per fold and then their concatenation)
    x_train = features(*concat_parts(folds[:-1]))
    x_valid = features(folds[-1][1], folds[-1][2])
    booster = train_veto(
        x_train, np.concatenate(ys[:-1]), x_valid, ys[-1], names, cfg.veto, cfg.seed
    )
    del x_train  # before the test rows' matrix is built
    save_veto(booster, ctx.run_dir / "veto")
    best = booster.best_iteration or None
    test_rows, test_preds = parts["test"]
    valid_prob = booster.predict(x_valid, num_iteration=best)
    del x_valid
    test_prob = _predict_in_chunks(booster, features, test_rows, test_preds, best)
    threshold = coverage_threshold(valid_prob, cfg.veto)
    rets = member_outputs(test_preds, "ret", hi)
    decisions = decide(rets, test_prob, cfg.ensemble, threshold, codes[test_rows])
    frame = build_test_frame(u, test_rows, test_preds, decisions, cfg)
    frame.to_parquet(ctx.run_dir / "test_predictions.parquet", index=False)
    record = {
        "threshold": threshold,
        "best_iteration": int(booster.best_iteration or booster.current_iteration()),
        "features": names,
    }
    (ctx.run_dir / VETO_RECORD).write_text(json.dumps(record, indent=2))
    veto = dict(record, test_prob=test_prob, valid_prob=valid_prob, valid_y=ys[-1])
    metrics = run_metrics(u, folds, parts["test"], veto, cfg, hi)
    train = json.loads((ctx.run_dir / "deep" / "train_metrics.json").read_text())
    metrics["train_period"] = train
    metrics["ensemble_weights"] = weights
    (ctx.run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
