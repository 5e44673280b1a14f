"""`tradeformer evaluate RUN_DIR`: everything the report shows, measured on the final test
period of a training run (rows no model, scaler, veto or threshold was fitted on).

Writes RUN_DIR/evaluation/: evaluation.json (all numbers), equity.parquet (daily returns of
every backtest), calibration.csv, veto_curve.csv, tft_variable_weights.csv,
<member>_variable_weights.csv and <member>_attention.safetensors (for members that return
them: TFT-XL's variable selection, TimeFormer-XL's attention) and, with ablations,
ablations.csv.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from safetensors.numpy import save_file

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.calendar import Calendar
from tradeformer.dataset.cross_section import date_codes
from tradeformer.dataset.prepare import DATA_RECORD, PreparedData, open_prepared, prepare_data
from tradeformer.dataset.universe import Universe, make_batch
from tradeformer.errors import InputError, NotFoundError, StageError
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
from tradeformer.evaluation.cross_section import baseline_features, evaluate_cross_section
from tradeformer.evaluation.metrics import (
    bootstrap_ci,
    calibration_table,
    forecast_metrics,
    ratio_ci,
)
from tradeformer.features.columns import CLASSICAL_COLUMNS
from tradeformer.models.registry import is_tabular, model_spec
from tradeformer.training.columns import ENSEMBLE, prediction_column
from tradeformer.training.ensemble import ensemble_probability, ensemble_return, member_outputs

log = logging.getLogger(__name__)
SURVIVORSHIP = (
    "Symbols are the ones present in the data. When that list is today's index membership "
    "looked back on (as for this project's own data sets), every backtest here carries "
    "survivorship bias: names that failed or left the index are missing, which flatters long "
    "positions."
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
        raise NotFoundError(f"{run_dir}: no config.yaml (not a tradeformer run directory)")
    return ExperimentConfig(**yaml.safe_load(path.read_text()))


def _run_data(run_dir: Path, cfg: ExperimentConfig, progress: bool) -> PreparedData:
    """The run's data from its data.json; runs made before the record rebuild it (cached)."""
    if (run_dir / DATA_RECORD).exists():
        return open_prepared(run_dir, cfg)
    return prepare_data(cfg.model_copy(update={"write_dataset_table": False}), progress=progress)


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


@dataclass
class TestRows:
    """What every evaluation step reads: the run's test frame and the rows behind it."""

    cfg: ExperimentConfig
    frame: pd.DataFrame
    u: Universe
    calendar: Calendar
    rows: np.ndarray  # universe rows of the frame's rows, in order
    out: Path
    threshold: float
    n_boot: int
    cost_bps: float

    @property
    def horizon(self) -> int:
        return self.cfg.ensemble.horizon

    @property
    def members(self) -> list[str]:
        return list(self.cfg.models)

    @property
    def dates(self) -> np.ndarray:
        return self.frame["timestamp"].to_numpy()

    def column(self, member: str, quantity: str = "ret", horizon: int | None = None):
        return self.frame[prediction_column(member, quantity, horizon or self.horizon)].to_numpy()

    def fold_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The last fold's training and validation rows (where the baselines are fitted)."""
        f = self.calendar.folds[-1]
        return self.u.rows_between(f.train_start, f.train_end), self.u.rows_between(
            f.val_start, f.val_end
        )


def _test_rows(run_dir: Path, cfg, data, progress, n_boot, cost_bps) -> TestRows:
    frame_path = run_dir / "test_predictions.parquet"
    if not frame_path.exists():
        raise StageError(f"{run_dir}: no test_predictions.parquet (training not finished)")
    frame = pd.read_parquet(frame_path)
    if "next_ret_1" not in frame.columns:
        raise StageError(f"{run_dir}: made by an older tradeformer; retrain to evaluate it")
    data = data or _run_data(run_dir, cfg, progress)
    u, cal = data.universe, data.calendar
    rows = u.rows_between(cal.test_start, cal.test_end, labeled=False)
    stamps = frame["timestamp"].astype("datetime64[ns]").to_numpy().view("int64")
    if len(rows) != len(frame) or not np.array_equal(u.timestamps[rows], stamps):
        raise StageError(f"{run_dir}: test rows no longer match the data (was the store changed?)")
    out = run_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    thr = _threshold(run_dir, cfg)
    return TestRows(cfg, frame, u, cal, rows, out, thr, n_boot, cost_bps)


def _forecasts(t: TestRows) -> tuple[dict[str, dict[str, Forecast]], dict]:
    """{horizon: {name: Forecast}} for every member, the ensemble and the baselines, and
    the classical LightGBM's feature importance per horizon."""
    u, rows, seed = t.u, t.rows, t.cfg.seed
    tr_rows, va_rows = t.fold_rows()
    full_x = baseline_features(u)
    forecasts, importance = {}, {}
    for j, h in enumerate(u.horizons):
        fc = {}
        for name in (*t.members, ENSEMBLE):
            score = t.column(name, "ret", h)
            fc[name] = Forecast(score, t.column(name, "prob", h), score > 0)
        fc["random"] = random_forecast(len(rows), seed + h)
        fc["always_up"] = always_up(len(rows), float(u.direction[tr_rows, j].mean()))
        fc["sma_crossover"] = sma_crossover(u, rows)
        fc["classical_lgbm"], booster = classical_lgbm(u, tr_rows, va_rows, rows, j, seed)
        fc["classical_lgbm_xs"], _ = classical_lgbm(
            u, tr_rows, va_rows, rows, j, seed, cross_sectional=True
        )
        fc["xs_lgbm_full"], _ = classical_lgbm(
            u, tr_rows, va_rows, rows, j, seed, cross_sectional=True, features=full_x
        )
        gains = booster.feature_importance("gain").tolist()
        importance[h] = dict(zip(booster.feature_name(), gains, strict=True))
        forecasts[str(h)] = fc
    return forecasts, importance


def _forecast_metrics(t: TestRows, forecasts: dict) -> dict:
    return {
        h: {
            name: forecast_metrics(
                f.score,
                f.prob_up,
                f.pred_up,
                t.frame[f"ret_{h}"].to_numpy(),
                t.dates,
                n_boot=t.n_boot,
            )
            for name, f in fc.items()
        }
        for h, fc in forecasts.items()
    }


def _cross_section(t: TestRows, forecasts: dict, titles: dict) -> dict:
    scores = {
        str(h): {
            **{n: t.column(n, "ret", h) for n in (*t.members, ENSEMBLE)},
            "classical_lgbm_xs": forecasts[str(h)]["classical_lgbm_xs"].score,
            "xs_lgbm_full": forecasts[str(h)]["xs_lgbm_full"].score,
        }
        for h in t.u.horizons
    }
    kept = t.frame["veto_prob"].to_numpy() >= t.threshold
    out = evaluate_cross_section(t.frame, scores, kept, t.horizon, t.cost_bps, 1000)
    out["names"] = {**titles, **out["names"]}
    return out


def _outcomes(t: TestRows) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(realised return, labelled mask, ensemble-call-correct, veto probability) per row."""
    realized = t.frame[f"ret_{t.horizon}"].to_numpy()
    correct = ((t.column(ENSEMBLE) > 0) == (realized > 0)).astype(float)
    return realized, np.isfinite(realized), correct, t.frame["veto_prob"].to_numpy()


def _veto(t: TestRows) -> dict:
    """The veto as a classifier, and the rows it keeps next to their base rate."""
    realized, lab, correct, veto = _outcomes(t)
    dates, kept = t.dates, lab & (veto >= t.threshold)
    block = {
        "threshold": t.threshold,
        "coverage": float(kept.sum() / max(lab.sum(), 1)),
        "n_kept": int(kept.sum()),
        "classifier": forecast_metrics(
            veto[lab], veto[lab], veto[lab] >= 0.5, correct[lab] - 0.5, dates[lab], n_boot=t.n_boot
        ),
    }
    if kept.any():
        up_k = (realized[kept] > 0).astype(float)
        block.update(
            accuracy_kept=float(correct[kept].mean()),
            accuracy_kept_ci=ratio_ci(correct[kept], np.ones(kept.sum()), dates[kept]),
            up_rate_kept=float(up_k.mean()),
            majority_rate_kept=float(max(up_k.mean(), 1 - up_k.mean())),
            n_kept_dates=len(np.unique(dates[kept])),
        )
    _veto_curve(t).to_csv(t.out / "veto_curve.csv", index=False)
    return block


def _veto_curve(t: TestRows) -> pd.DataFrame:
    """Coverage, accuracy of the kept calls and their up-share at every threshold."""
    realized, lab, correct, veto = _outcomes(t)
    curve = []
    for thr in np.round(np.arange(0.40, 0.91, 0.025), 3):
        k = lab & (veto >= thr)
        if k.any():
            curve.append(
                {
                    "threshold": float(thr),
                    "coverage": float(k.sum() / lab.sum()),
                    "accuracy_kept": float(correct[k].mean()),
                    "up_rate_kept": float((realized[k] > 0).mean()),
                    "n_kept": int(k.sum()),
                }
            )
    return pd.DataFrame(curve)


def _strategies(t: TestRows, forecasts: dict) -> dict[str, np.ndarray]:
    """Positions (-1, 0, +1) per row of every backtested strategy."""
    ens, fc = t.column(ENSEMBLE), forecasts[str(t.horizon)]
    veto = t.frame["veto_prob"].to_numpy()

    def side(name: str) -> np.ndarray:
        return np.where(fc[name].pred_up, 1.0, -1.0)

    return {
        "ensemble+veto": np.where(veto >= t.threshold, _sign(ens), 0.0),
        "ensemble": _sign(ens),
        **{m: _sign(t.column(m)) for m in t.members},
        **{n: side(n) for n in ("classical_lgbm", "sma_crossover", "random")},
        "always_up": np.ones(len(t.frame)),
        "classical_lgbm_xs": cross_sectional_signal(fc["classical_lgbm_xs"].score, t.dates),
        "ensemble_xs": cross_sectional_signal(ens, t.dates),
    }


def _backtests(t: TestRows, forecasts: dict) -> dict:
    """Long-short and long-only backtests of every strategy, and buy and hold."""
    backtests: dict[str, dict] = {"long_short": {}, "long_only": {}}
    equity = []
    strategies = _strategies(t, forecasts)
    runs = [(v, n, s, t.horizon) for v in backtests for n, s in strategies.items()]
    # "always up" never goes short: it is a long-only strategy, not a long-short one
    runs = [r for r in runs if not (r[0] == "long_short" and r[1] == "always_up")]
    runs.append(("long_only", "buy_and_hold", np.ones(len(t.frame)), 1))
    for variant, name, sig, holding in runs:
        long_only = variant == "long_only"
        res = run_backtest(t.frame, sig, holding=holding, cost_bps=t.cost_bps, long_only=long_only)
        backtests[variant][name] = dict(res.stats, sharpe_ci=sharpe_ci(res.daily["net"].to_numpy()))
        equity.append(res.daily.assign(strategy=name, variant=variant).reset_index())
    pd.concat(equity, ignore_index=True).to_parquet(t.out / "equity.parquet", index=False)
    return backtests


def _calibration(t: TestRows, forecasts: dict) -> None:
    realized, lab, correct, veto = _outcomes(t)
    parts = []
    for name in (*t.members, ENSEMBLE, "classical_lgbm"):
        f = forecasts[str(t.horizon)][name]
        tb = calibration_table(f.prob_up[lab], realized[lab] > 0, strategy="quantile")
        parts.append(tb.assign(model=name))
    tb = calibration_table(veto[lab], correct[lab] > 0.5, strategy="quantile")
    parts.append(tb.assign(model="veto (P[ensemble call right])"))
    pd.concat(parts, ignore_index=True).to_csv(t.out / "calibration.csv", index=False)


def _conventions(h: int, cost_bps: float) -> dict:
    return {
        "sharpe": "daily net returns, mean/std x sqrt(252), zero risk-free rate",
        "positions": f"signal at the close of t, held {h} bars as 1/{h} sleeves; "
        "equal weight per symbol",
        "confidence_intervals": "95%, moving-block bootstrap over dates (block 20)",
        "costs": f"{cost_bps} bps per unit traded, each side",
    }


def evaluate_run(
    run_dir: str | Path,
    *,
    ablations: tuple[str, ...] = (),
    cost_bps: float = 5.0,
    n_boot: int = 200,
    progress: bool = False,
    data: PreparedData | None = None,
) -> dict:
    """Metrics with CIs, baselines, backtests, veto curve, calibration, interpretability and
    (optionally) retrained ablations for one run; returns and writes evaluation.json.
    `data`: the run's prepared data when the caller has it (else reopened from data.json)."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    unknown = sorted(set(ablations) - set(abl.RETRAINED))
    if unknown:
        raise InputError(f"unknown ablations {unknown}; choose from {', '.join(abl.RETRAINED)}")
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    t = _test_rows(run_dir, cfg, data, progress, n_boot, cost_bps)
    log.info(
        "evaluating %s: %s test rows, %d symbols",
        run_dir,
        f"{len(t.frame):,}",
        t.frame["symbol"].nunique(),
    )
    titles = {m: model_spec(cfg.member_kind(m)).title for m in t.members}
    forecasts, importance = _forecasts(t)
    metrics = _forecast_metrics(t, forecasts)
    log.info("forecast metrics: %.0f s", time.perf_counter() - t0)
    cross_section = _cross_section(t, forecasts, titles)
    veto_block = _veto(t)
    backtests = _backtests(t, forecasts)
    log.info("cross-section, veto and backtests: %.0f s", time.perf_counter() - t0)
    _calibration(t, forecasts)
    interp = _interpretability(run_dir, t.u, t.rows, t.out)
    ablation_rows = _ablations(t, ablations)
    log.info("ablations: %.0f s", time.perf_counter() - t0)
    result = {
        "run_dir": str(run_dir),
        "test_period": [str(t.calendar.test_start.date()), str(t.calendar.test_end.date())],
        "n_symbols": int(t.frame["symbol"].nunique()),
        "n_rows": len(t.frame),
        "n_labeled_rows": int(_outcomes(t)[1].sum()),
        "horizon": t.horizon,
        "horizons": list(t.u.horizons),
        "members": titles,
        "cost_bps": cost_bps,
        "conventions": _conventions(t.horizon, cost_bps),
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
    (t.out / "evaluation.json").write_text(json.dumps(result, indent=2, default=json_default))
    return result


def json_default(o):
    """`json.dumps(default=...)` for numpy scalars and tuples."""
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
    """What each member exposes on test rows: variable-selection weights (TFT-XL) and the
    last attention layer's weights (every member), written per member."""
    from tradeformer.bundle import load_bundle

    b = load_bundle(run_dir / "bundle")
    pick = rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)]
    batch = make_batch(u, pick, b.lookback, b.scaler)
    t = {k: (torch.from_numpy(v) if v is not None else None) for k, v in batch.items()}
    result: dict = {"n_rows": len(pick), "members": {}}
    for name, model in b.members.items():
        if is_tabular(model):  # a boosted member: its features' total gain
            gain = model.importance()
            pd.Series(gain, name="gain").rename_axis("feature").to_csv(out / f"{name}_gain.csv")
            result["members"][name] = {"top_features": dict(list(gain.items())[:10])}
            continue
        o = model.eval()(t["price"], t["embedding"], t["context"])
        info = {"attention_entropy": float(o.attn_entropy.mean())}
        if o.var_weights is not None:
            w = o.var_weights.float().mean(0).numpy()
            names = [_variable_name(v, u.context_names) for v in model.variable_names]
            table = pd.DataFrame({"variable": names, "weight": w})
            table.sort_values("weight", ascending=False).to_csv(
                out / f"{name}_variable_weights.csv", index=False
            )
            ranked = sorted(zip(names, w.tolist(), strict=True), key=lambda kv: -kv[1])
            info["top_variables"] = dict(ranked[:10])
        if o.attention is not None:
            attn = np.ascontiguousarray(o.attention.float().mean(0).numpy())
            save_file({"attention": attn}, str(out / f"{name}_attention.safetensors"))
            info["attention_tokens"] = int(attn.shape[-1])
        result["members"][name] = info
    return result


def _ablations(t: TestRows, names: tuple[str, ...]) -> list[dict]:
    """Accuracy, AUC, rank IC and Sharpe of the ensemble for the full run and each variant,
    with the paired bootstrap CI of the accuracy difference to the full run."""
    cfg, frame, H, dates = t.cfg, t.frame, t.horizon, t.dates
    hi, cost_bps, n_boot = t.u.horizons.index(H), t.cost_bps, t.n_boot
    realized = frame[f"ret_{H}"].to_numpy()
    lab = np.isfinite(realized)
    up = realized > 0

    def row(name, ens, prob, note=""):
        correct = (ens > 0) == up
        m = forecast_metrics(ens[lab], prob[lab], ens[lab] > 0, realized[lab], dates[lab], n_boot=0)
        bt = run_backtest(frame, _sign(ens), holding=H, cost_bps=cost_bps)
        return {
            "variant": name,
            "description": abl.DESCRIPTIONS.get(name) or note,
            "accuracy": m["accuracy"],
            "majority_rate": m["majority_rate"],
            "auc": m["auc"],
            "rank_ic": m["rank_ic"],
            "date_rank_ic": m["date_rank_ic"],
            "sharpe_long_short": bt.stats["sharpe"],
            "_correct": correct.astype(float),
        }

    def columns(member: str) -> tuple[np.ndarray, np.ndarray]:
        ret, prob = (prediction_column(member, q, H) for q in ("ret", "prob"))
        return frame[ret].to_numpy(), frame[prob].to_numpy()

    full = row("full", *columns(ENSEMBLE))
    table = [full]
    if len(cfg.models) > 1:
        for m in cfg.models:
            note = abl.member_only(m, model_spec(cfg.member_kind(m)).title)
            table.append(row(f"{m}_only", *columns(m), note))
    for name in names:
        p = abl.retrain_without(
            cfg, t.u, t.calendar.folds[-1], name, t.rows, t.out / "ablation_models"
        )
        ens = ensemble_return(member_outputs(p, "ret", hi), cfg.ensemble, date_codes(dates))
        prob = ensemble_probability(member_outputs(p, "dir_prob", hi), cfg.ensemble)
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
    pd.DataFrame(table).to_csv(t.out / "ablations.csv", index=False)
    return table
