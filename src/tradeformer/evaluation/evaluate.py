"""`tradeformer evaluate RUN_DIR`: everything the report shows, measured on the final test
period of a training run (rows no model, scaler, veto or threshold was fitted on).

Writes RUN_DIR/evaluation/: evaluation.json (all numbers), equity.parquet (daily returns of
every backtest), calibration.csv, veto_curve.csv, tft_variable_weights.csv,
timeformer_attention.safetensors and, with ablations, ablations.csv.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from safetensors.numpy import save_file

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.cross_section import date_codes
from tradeformer.dataset.universe import make_batch
from tradeformer.evaluation import ablations as abl
from tradeformer.evaluation.backtest import run_backtest, sharpe_ci
from tradeformer.evaluation.baselines import (
    Forecast,
    always_up,
    classical_lgbm,
    cross_sectional_signal,
    random_forecast,
    sma_crossover,
)
from tradeformer.evaluation.cross_section import SCORED as XS_SCORED
from tradeformer.evaluation.cross_section import baseline_features, evaluate_cross_section
from tradeformer.evaluation.metrics import (
    bootstrap_ci,
    calibration_table,
    forecast_metrics,
    ratio_ci,
)
from tradeformer.features.columns import CLASSICAL_COLUMNS
from tradeformer.training.ensemble import effective_weights, ensemble_return

SURVIVORSHIP = (
    "Symbols are the ones present in the data. When that list is today's index membership "
    "looked back on (as in ../shared/data/daily), every backtest here carries survivorship "
    "bias: names that failed or left the index are missing, which flatters long positions."
)
SPEC = {  # the spec's "Performance Expectations" (claims, not results)
    "accuracy": "68-72%",
    "sharpe": "> 2.0",
    "win_rate": "> 62%",
    "max_drawdown": "< 15%",
    "avg_trade_return": "> 0.5%",
    "timeformer": {"accuracy": "68-72%", "f1": "0.66-0.70", "auc": "0.72-0.76"},
    "tft": {"accuracy": "66-70%", "f1": "0.64-0.68", "auc": "0.70-0.74"},
    "veto": {"accuracy": "70-74%", "f1": "0.68-0.72", "auc": "0.74-0.78"},
    "sources": {
        "no_embedding": "+5-7%",
        "no_mtf": "+2-3%",
        "no_smc": "+2-3%",
        "veto": "+2-3% (ensemble + veto)",
    },
    "baselines": {"random": "50%", "sma_crossover": "52-55%", "classical": "58-62%"},
}


def load_run_config(run_dir: Path) -> ExperimentConfig:
    path = run_dir / "config.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no config.yaml (not a tradeformer run directory)")
    return ExperimentConfig(**yaml.safe_load(path.read_text()))


def _threshold(run_dir: Path, cfg: ExperimentConfig) -> float:
    """The veto threshold the run decided with (chosen for a coverage, or the fixed one)."""
    path = run_dir / "metrics.json"
    if path.exists():
        thr = json.loads(path.read_text()).get("veto", {}).get("threshold")
        if thr is not None:
            return float(thr)
    return float(cfg.veto.threshold)


def _sign(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), np.sign(x), 0.0)


def evaluate_run(
    run_dir: str | Path,
    *,
    ablations: tuple[str, ...] = (),
    cost_bps: float = 5.0,
    n_boot: int = 200,
    progress: bool = False,
    log: Callable = print,
) -> dict:
    """Metrics with CIs, baselines, backtests, veto curve, calibration, interpretability and
    (optionally) retrained ablations for one run; returns and writes evaluation.json."""
    from tradeformer.training.pipeline import prepare_data

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    out = run_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_run_config(run_dir)
    unknown = sorted(set(ablations) - set(abl.RETRAINED))
    if unknown:
        raise ValueError(f"unknown ablations {unknown}; choose from {', '.join(abl.RETRAINED)}")
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    frame_path = run_dir / "test_predictions.parquet"
    if not frame_path.exists():
        raise FileNotFoundError(f"{run_dir}: no test_predictions.parquet (training not finished)")
    frame = pd.read_parquet(frame_path)
    if "next_ret_1" not in frame.columns:
        raise ValueError(f"{run_dir}: made by an older tradeformer; retrain to evaluate it")
    data = prepare_data(cfg, progress=progress, log=lambda *a: None)
    u, cal, horizons = data.universe, data.calendar, data.horizons
    rows = u.rows_between(cal.test_start, cal.test_end, labeled=False)
    if len(rows) != len(frame) or not np.array_equal(
        u.timestamps[rows], frame["timestamp"].astype("datetime64[ns]").to_numpy().view("int64")
    ):
        raise ValueError(f"{run_dir}: test rows no longer match the data (was the store changed?)")
    H = cfg.ensemble.horizon
    hi = horizons.index(H)
    thr = _threshold(run_dir, cfg)
    dates = frame["timestamp"].to_numpy()
    last = cal.folds[-1]
    tr_rows = u.rows_between(last.train_start, last.train_end)
    va_rows = u.rows_between(last.val_start, last.val_end)
    log(f"evaluating {run_dir}: {len(frame):,} test rows, {frame['symbol'].nunique()} symbols")

    # ------------------------------------------------------------ forecasts per horizon
    forecasts: dict[str, dict[str, Forecast]] = {}
    importance = {}
    full_x = baseline_features(u)
    for j, h in enumerate(horizons):
        fc = {}
        for name in ("timeformer", "tft", "ensemble"):
            fc[name] = Forecast(
                frame[f"{name}_ret_{h}"].to_numpy(),
                frame[f"{name}_prob_{h}"].to_numpy(),
                frame[f"{name}_ret_{h}"].to_numpy() > 0,
            )
        fc["random"] = random_forecast(len(frame), cfg.seed + h)
        fc["always_up"] = always_up(len(frame), float(u.direction[tr_rows, j].mean()))
        fc["sma_crossover"] = sma_crossover(u, rows)
        fc["classical_lgbm"], booster = classical_lgbm(u, tr_rows, va_rows, rows, j, cfg.seed)
        fc["classical_lgbm_xs"], _ = classical_lgbm(
            u, tr_rows, va_rows, rows, j, cfg.seed, cross_sectional=True
        )
        fc["xs_lgbm_full"], _ = classical_lgbm(
            u, tr_rows, va_rows, rows, j, cfg.seed, cross_sectional=True, features=full_x
        )
        importance[h] = dict(
            zip(booster.feature_name(), booster.feature_importance("gain").tolist(), strict=True)
        )
        forecasts[str(h)] = fc
    metrics = {
        h: {
            name: forecast_metrics(
                f.score, f.prob_up, f.pred_up, frame[f"ret_{h}"].to_numpy(), dates, n_boot=n_boot
            )
            for name, f in fc.items()
        }
        for h, fc in forecasts.items()
    }
    log(f"forecast metrics: {time.perf_counter() - t0:.0f} s")
    xs_scores = {
        str(h): {
            **{n: frame[f"{n}_ret_{h}"].to_numpy() for n in XS_SCORED},
            "classical_lgbm_xs": forecasts[str(h)]["classical_lgbm_xs"].score,
            "xs_lgbm_full": forecasts[str(h)]["xs_lgbm_full"].score,
        }
        for h in horizons
    }
    kept_rows = frame["veto_prob"].to_numpy() >= thr
    cross_section = evaluate_cross_section(frame, xs_scores, kept_rows, H, cost_bps, 1000)
    log(f"cross-sectional scorecards: {time.perf_counter() - t0:.0f} s")

    # ------------------------------------------------------------ the veto
    ens = frame[f"ensemble_ret_{H}"].to_numpy()
    realized = frame[f"ret_{H}"].to_numpy()
    veto = frame["veto_prob"].to_numpy()
    lab = np.isfinite(realized)
    correct = ((ens > 0) == (realized > 0)).astype(float)
    kept = lab & (veto >= thr)
    veto_block = {
        "threshold": thr,
        "coverage": float(kept.sum() / max(lab.sum(), 1)),
        "n_kept": int(kept.sum()),
        "classifier": forecast_metrics(
            veto[lab], veto[lab], veto[lab] >= 0.5, correct[lab] - 0.5, dates[lab], n_boot=n_boot
        ),
    }
    if kept.any():
        up_k = (realized[kept] > 0).astype(float)
        veto_block.update(
            accuracy_kept=float(correct[kept].mean()),
            accuracy_kept_ci=ratio_ci(correct[kept], np.ones(kept.sum()), dates[kept]),
            up_rate_kept=float(up_k.mean()),
            majority_rate_kept=float(max(up_k.mean(), 1 - up_k.mean())),
            n_kept_dates=len(np.unique(dates[kept])),
        )
    curve = []
    for t in np.round(np.arange(0.40, 0.91, 0.025), 3):
        k = lab & (veto >= t)
        if not k.any():
            continue
        up_k = realized[k] > 0
        curve.append(
            {
                "threshold": float(t),
                "coverage": float(k.sum() / lab.sum()),
                "accuracy_kept": float(correct[k].mean()),
                "up_rate_kept": float(up_k.mean()),
                "n_kept": int(k.sum()),
            }
        )
    pd.DataFrame(curve).to_csv(out / "veto_curve.csv", index=False)

    # ------------------------------------------------------------ backtests
    strategies = {
        "ensemble+veto": np.where(veto >= thr, _sign(ens), 0.0),
        "ensemble": _sign(ens),
        "timeformer": _sign(frame[f"timeformer_ret_{H}"].to_numpy()),
        "tft": _sign(frame[f"tft_ret_{H}"].to_numpy()),
        "classical_lgbm": np.where(forecasts[str(H)]["classical_lgbm"].pred_up, 1.0, -1.0),
        "sma_crossover": np.where(forecasts[str(H)]["sma_crossover"].pred_up, 1.0, -1.0),
        "random": np.where(forecasts[str(H)]["random"].pred_up, 1.0, -1.0),
        "always_up": np.ones(len(frame)),
        "classical_lgbm_xs": cross_sectional_signal(
            forecasts[str(H)]["classical_lgbm_xs"].score, dates
        ),
        "ensemble_xs": cross_sectional_signal(ens, dates),
    }
    backtests: dict[str, dict] = {"long_short": {}, "long_only": {}}
    equity = []
    for variant in backtests:
        for name, sig in strategies.items():
            res = run_backtest(
                frame, sig, holding=H, cost_bps=cost_bps, long_only=variant == "long_only"
            )
            st = dict(res.stats, sharpe_ci=sharpe_ci(res.daily["net"].to_numpy()))
            backtests[variant][name] = st
            equity.append(res.daily.assign(strategy=name, variant=variant).reset_index())
    bh = run_backtest(frame, np.ones(len(frame)), holding=1, cost_bps=cost_bps)
    bh_stats = dict(bh.stats, sharpe_ci=sharpe_ci(bh.daily["net"].to_numpy()))
    backtests["long_only"]["buy_and_hold"] = bh_stats
    equity.append(bh.daily.assign(strategy="buy_and_hold", variant="long_only").reset_index())
    eq = pd.concat(equity, ignore_index=True)
    eq.to_parquet(out / "equity.parquet", index=False)
    log(f"backtests: {time.perf_counter() - t0:.0f} s")

    # ------------------------------------------------------------ calibration
    cal_parts = []
    for name in ("timeformer", "tft", "ensemble", "classical_lgbm"):
        f = forecasts[str(H)][name]
        tb = calibration_table(f.prob_up[lab], realized[lab] > 0, strategy="quantile")
        cal_parts.append(tb.assign(model=name))
    tb = calibration_table(veto[lab], correct[lab] > 0.5, strategy="quantile")
    cal_parts.append(tb.assign(model="veto (P[ensemble call right])"))
    pd.concat(cal_parts, ignore_index=True).to_csv(out / "calibration.csv", index=False)

    # ------------------------------------------------------------ interpretability
    interp = _interpretability(run_dir, u, rows, out)

    # ------------------------------------------------------------ ablations
    ablation_rows = _ablations(cfg, u, last, rows, frame, ablations, H, hi, out, cost_bps, n_boot)
    log(f"ablations: {time.perf_counter() - t0:.0f} s")

    result = {
        "run_dir": str(run_dir),
        "test_period": [str(cal.test_start.date()), str(cal.test_end.date())],
        "n_symbols": int(frame["symbol"].nunique()),
        "n_rows": len(frame),
        "n_labeled_rows": int(lab.sum()),
        "horizon": H,
        "horizons": list(horizons),
        "cost_bps": cost_bps,
        "conventions": {
            "sharpe": "daily net returns, mean/std x sqrt(252), zero risk-free rate",
            "positions": f"signal at the close of t, held {H} bars as 1/{H} sleeves; "
            "equal weight per symbol",
            "confidence_intervals": "95%, moving-block bootstrap over dates (block 20)",
            "costs": f"{cost_bps} bps per unit traded, each side",
        },
        "survivorship": SURVIVORSHIP,
        "spec": SPEC,
        "forecasts": metrics,
        "cross_section": cross_section,
        "target": cfg.target.kind,
        "veto": veto_block,
        "backtests": backtests,
        "classical_lgbm_importance": importance,
        "interpretability": interp,
        "ablations": ablation_rows,
        "seconds": time.perf_counter() - t0,
    }
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, default=_json))
    return result


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    return str(o)


def _variable_name(name: str, columns: tuple[str, ...] = CLASSICAL_COLUMNS) -> str:
    """TFT's generic `context_i` variables are the run's context columns, in order."""
    if name.startswith("context_") and name[8:].isdigit() and int(name[8:]) < len(columns):
        return columns[int(name[8:])]
    return name


@torch.no_grad()
def _interpretability(run_dir: Path, u, rows: np.ndarray, out: Path, n: int = 512) -> dict:
    """TFT variable-selection weights and TimeFormer's last-layer attention on test rows."""
    from tradeformer.bundle import load_bundle

    b = load_bundle(run_dir / "bundle")
    pick = rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)]
    batch = make_batch(u, pick, b.lookback, b.scaler)
    t = {k: (torch.from_numpy(v) if v is not None else None) for k, v in batch.items()}
    o_tft = b.tft.eval()(t["price"], t["embedding"], t["context"])
    o_tf = b.timeformer.eval()(t["price"], t["embedding"], t["context"])
    w = o_tft.var_weights.float().mean(0).numpy()
    names = [_variable_name(n, u.context_names) for n in b.tft.variable_names]
    pd.DataFrame({"variable": names, "weight": w}).sort_values("weight", ascending=False).to_csv(
        out / "tft_variable_weights.csv", index=False
    )
    attn = o_tf.attention.float().mean(0).numpy()
    save_file(
        {"attention": np.ascontiguousarray(attn)}, str(out / "timeformer_attention.safetensors")
    )
    return {
        "n_rows": len(pick),
        "tft_top_variables": dict(
            sorted(zip(names, w.tolist(), strict=True), key=lambda kv: -kv[1])[:10]
        ),
        "timeformer_attention_tokens": int(attn.shape[-1]),
        "timeformer_attention_entropy": float(o_tf.attn_entropy.mean()),
    }


def _ablations(cfg, u, fold, rows, frame, names, H, hi, out, cost_bps, n_boot) -> list[dict]:
    """Accuracy, AUC, rank IC and Sharpe of the ensemble for the full run and each variant,
    with the paired bootstrap CI of the accuracy difference to the full run."""
    realized = frame[f"ret_{H}"].to_numpy()
    lab = np.isfinite(realized)
    dates = frame["timestamp"].to_numpy()
    up = realized > 0
    w = effective_weights(cfg.ensemble)

    def row(name, ens, prob, note=""):
        correct = (ens > 0) == up
        m = forecast_metrics(ens[lab], prob[lab], ens[lab] > 0, realized[lab], dates[lab], n_boot=0)
        bt = run_backtest(frame, _sign(ens), holding=H, cost_bps=cost_bps)
        return {
            "variant": name,
            "description": abl.DESCRIPTIONS.get(name, note),
            "accuracy": m["accuracy"],
            "majority_rate": m["majority_rate"],
            "auc": m["auc"],
            "rank_ic": m["rank_ic"],
            "date_rank_ic": m["date_rank_ic"],
            "sharpe_long_short": bt.stats["sharpe"],
            "_correct": correct.astype(float),
        }

    full = row(
        "full",
        frame[f"ensemble_ret_{H}"].to_numpy(),
        frame[f"ensemble_prob_{H}"].to_numpy(),
    )
    table = [full]
    for name in ("timeformer", "tft"):
        table.append(
            row(
                f"{name}_only",
                frame[f"{name}_ret_{H}"].to_numpy(),
                frame[f"{name}_prob_{H}"].to_numpy(),
            )
        )
    for name in names:
        p = abl.retrain_without(cfg, u, fold, name, rows, out / "ablation_models")
        ens = ensemble_return(
            p["timeformer"]["ret"][:, hi], p["tft"]["ret"][:, hi], cfg.ensemble, date_codes(dates)
        )
        prob = (
            w["timeformer"] * p["timeformer"]["dir_prob"][:, hi]
            + w["tft"] * p["tft"]["dir_prob"][:, hi]
        )
        table.append(row(name, ens, prob))
    base = full["_correct"]
    for r in table:
        c = r.pop("_correct")
        r["delta_accuracy"] = float(c[lab].mean() - base[lab].mean())
        if r["variant"] != "full" and n_boot:
            r["delta_accuracy_ci"] = bootstrap_ci(
                lambda a, b: a.mean() - b.mean(), (c[lab], base[lab]), dates[lab], n_boot=n_boot
            )
        r["delta_note"] = "variant minus full: the full model's gain from this input is -delta"
    pd.DataFrame(table).to_csv(out / "ablations.csv", index=False)
    return table
