"""Stage `bundle`: the final members, scaler, veto and decision rule as one self-describing
directory (`tradeformer.bundle`) -> bundle/, summary.json."""

from __future__ import annotations

import json

from tradeformer.bundle import save_bundle, weights_hash
from tradeformer.config import ExperimentConfig
from tradeformer.stages.artifacts import FINAL, load_members, require
from tradeformer.stages.context import RunContext
from tradeformer.stages.veto import VETO_RECORD


def needs_cross_section(cfg: ExperimentConfig) -> bool:
    """Whether a prediction needs the date's cross-section of the training universe (its
    inputs or its ensemble are per-date transforms; a cross-sectional target alone does not)."""
    return cfg.normalization.cross_sectional or cfg.ensemble.combine == "ranks"


def run(ctx: RunContext) -> None:
    cfg, data, run_dir = ctx.cfg, ctx.data, ctx.run_dir
    members, scaler = load_members(require(run_dir, FINAL, "deep"))
    veto = json.loads(require(run_dir, VETO_RECORD, "veto").read_text())
    metrics = json.loads(require(run_dir, "metrics.json", "veto").read_text())
    folder = save_bundle(
        run_dir / "bundle",
        members=members,
        veto_path=run_dir / "veto" / "veto.txt",
        scaler=scaler,
        config=cfg.model_dump(mode="json"),
        embedding=data.emb_info,
        local_model_dir=data.local_dir,
        horizons=data.horizons,
        lookback=cfg.training.lookback,
        data_fingerprint=data.data_fingerprint,
        calendar=data.calendar.to_dict(),
        metrics=metrics,
        veto_features=veto["features"],
        decision={
            "threshold": veto["threshold"],
            "target": cfg.target.kind,
            "combine": cfg.ensemble.combine,
            "cross_sectional": needs_cross_section(cfg),
            "universe": list(data.symbols),
            "heldout_symbols": list(data.heldout),
            "context_columns": list(data.universe.context_names),
        },
    )
    summary = {
        "run_dir": str(run_dir),
        "bundle": str(folder),
        "weights_hash": weights_hash(folder),
        "metrics": metrics,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
