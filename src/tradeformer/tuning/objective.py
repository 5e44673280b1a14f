"""The search's objective, read from validation folds only: the mean per-date rank IC of the
ensemble's out-of-fold score at the config's horizon (members combined as the config says,
OOF-chosen weights recomputed from the same OOF rows), or of one member's (`member:NAME`).
The deep stage runs with `oof_only`: no test-period prediction is made and no test label is
read (tests/tuning/test_tune.py shuffles them and gets the same value)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.cross_section import date_codes
from tradeformer.stats.ranking import per_date_rank_ic
from tradeformer.training.ensemble import ensemble_return
from tradeformer.training.weights import ic_weights


def oof_scores(oof: pd.DataFrame, cfg: ExperimentConfig) -> dict[str, float]:
    """{member: OOF per-date rank IC, ..., "ensemble": the ensemble's} at the config horizon."""
    h = cfg.ensemble.horizon
    ok = oof[f"ret_{h}"].notna()
    o = oof.loc[ok]
    dates = o["timestamp"].to_numpy()
    target = o[f"ret_{h}"].to_numpy()
    preds = {m: o[f"{m}_ret_{h}"].to_numpy() for m in cfg.models}
    out = {m: float(per_date_rank_ic(p, target, dates).mean()) for m, p in preds.items()}
    ens_cfg = cfg.ensemble
    if ens_cfg.weighting != "fixed":
        ics = {m: (v if np.isfinite(v) else 0.0) for m, v in out.items()}
        ens_cfg = ens_cfg.model_copy(update={"weights": ic_weights(ics), "average": 0.0})
    score = ensemble_return(preds, ens_cfg, date_codes(dates))
    out["ensemble"] = float(per_date_rank_ic(score, target, dates).mean())
    return out


def objective_value(scores: dict[str, float], metric: str) -> float:
    """`ensemble` or `member:NAME`; -1 (the worst IC) where the value is not finite."""
    key = metric.split(":", 1)[1] if metric.startswith("member:") else metric
    v = scores.get(key, float("nan"))
    return float(v) if np.isfinite(v) else -1.0


def read_oof(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "oof.parquet")
