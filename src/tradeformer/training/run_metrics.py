"""The training-time summary in `metrics.json`: direction metrics against the target direction
and pooled rank IC against the target, per member and for the ensemble, on the OOF rows and
the test rows, and the veto's numbers (the full, CI-bearing evaluation is `evaluate`)."""

from __future__ import annotations

import numpy as np

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.cross_section import date_codes
from tradeformer.dataset.universe import Universe
from tradeformer.training.columns import ENSEMBLE
from tradeformer.training.ensemble import ensemble_return, member_outputs
from tradeformer.training.metrics import direction_metrics, rank_ic, veto_metrics


def ensemble_of(u: Universe, preds: dict, rows: np.ndarray, cfg: ExperimentConfig, hi: int):
    """The ensemble's score on `rows` at the ensemble horizon."""
    codes = date_codes(u.timestamps[rows])
    return ensemble_return(member_outputs(preds, "ret", hi), cfg.ensemble, codes)


def period_metrics(
    u: Universe, rows: np.ndarray, preds: dict, cfg: ExperimentConfig, hi: int
) -> dict:
    """Per member and horizon: direction metrics and rank IC; the ensemble at its horizon."""
    y_ret, y_dir = u.y_ret, u.y_dir
    out = {}
    for name, p in preds.items():
        out[name] = {
            f"h{h}": {
                **direction_metrics(p["dir_prob"][:, j], y_dir[rows, j]),
                "rank_ic": rank_ic(p["ret"][:, j], y_ret[rows, j]),
            }
            for j, h in enumerate(u.horizons)
        }
    ens = ensemble_of(u, preds, rows, cfg, hi)
    out[ENSEMBLE] = {
        **direction_metrics((ens > 0).astype(float), y_dir[rows, hi]),
        "rank_ic": rank_ic(ens, y_ret[rows, hi]),
    }
    return out


def concat_parts(parts: list[tuple[int, np.ndarray, dict]]) -> tuple[np.ndarray, dict]:
    """The folds' validation rows and predictions as one block."""
    rows = np.concatenate([r for _, r, _ in parts])
    first = parts[0][2]
    preds = {
        n: {k: np.concatenate([p[n][k] for _, _, p in parts]) for k in first[n]} for n in first
    }
    return rows, preds


def run_metrics(
    u: Universe,
    oof_parts: list[tuple[int, np.ndarray, dict]],
    test: tuple[np.ndarray, dict],
    veto: dict,
    cfg: ExperimentConfig,
    hi: int,
) -> dict:
    """`veto`: best_iteration, threshold, test_prob, valid_prob, valid_y (the last fold)."""
    y_dir = u.y_dir
    test_rows, test_preds = test
    labeled = np.isfinite(u.ret[test_rows, hi])
    trows = test_rows[labeled]
    tpreds = {n: {k: v[labeled] for k, v in p.items()} for n, p in test_preds.items()}
    last_rows, last = oof_parts[-1][1], oof_parts[-1][2]
    thr, valid_prob = veto["threshold"], veto["valid_prob"]
    return {
        "horizon": cfg.ensemble.horizon,
        "target": cfg.target.kind,
        "oof": period_metrics(u, *concat_parts(oof_parts), cfg, hi),
        "test": period_metrics(u, trows, tpreds, cfg, hi),
        "veto": {
            "best_iteration": veto["best_iteration"],
            "threshold": thr,
            "coverage_target": cfg.veto.coverage,
            "valid_fold_auc": direction_metrics(valid_prob, veto["valid_y"])["auc"],
            "valid_fold": veto_metrics(
                valid_prob >= thr,
                ensemble_of(u, last, last_rows, cfg, hi) > 0,
                y_dir[last_rows, hi],
            ),
            "test": veto_metrics(
                veto["test_prob"][labeled] >= thr,
                ensemble_of(u, tpreds, trows, cfg, hi) > 0,
                y_dir[trows, hi],
            ),
        },
    }
