"""Runs side by side: their configs as a diff and their test scorecards on the rows they share,
with each difference's confidence interval from a paired moving-block bootstrap over dates
(the same resampled dates for both runs, so what the runs share cancels).

Is B really better than A? With seed noise of ~0.015 rank IC per run here, only an interval
that excludes 0 says so."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tradeformer.config import flatten
from tradeformer.errors import ConfigError
from tradeformer.evaluation.metrics import block_bootstrap_indices, percentile_interval
from tradeformer.stats.ranking import per_date_rank_ic

KEYS = ("timestamp", "symbol")
METRICS = ("date_rank_ic", "accuracy", "long_short_bps")


@dataclass
class Comparison:
    runs: list[str]
    config_diff: pd.DataFrame  # one row per differing key, one column per run
    scorecard: pd.DataFrame  # one row per run: metrics on the shared rows
    differences: pd.DataFrame  # one row per (run vs the first, metric): diff, CI
    shared: dict  # rows, dates, period


def load_run(run_dir: Path) -> tuple[dict, pd.DataFrame]:
    """A run's resolved config and its test predictions."""
    run_dir = Path(run_dir)
    cfg_path, pred_path = run_dir / "config.yaml", run_dir / "test_predictions.parquet"
    for p in (cfg_path, pred_path):
        if not p.exists():
            raise ConfigError(f"{run_dir}: no {p.name} (is it a finished training run?)")
    return yaml.safe_load(cfg_path.read_text()), pd.read_parquet(pred_path)


def config_diff(configs: list[dict], names: list[str]) -> pd.DataFrame:
    """The keys whose values differ between the runs (missing = `-`)."""
    flat = [flatten(c) for c in configs]
    keys = sorted(set().union(*flat))
    rows = {k: [f.get(k, "-") for f in flat] for k in keys}
    diff = {k: v for k, v in rows.items() if any(str(x) != str(v[0]) for x in v[1:])}
    return pd.DataFrame.from_dict(diff, orient="index", columns=names).rename_axis("key")


def per_date_frame(pred: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Per test date: the ensemble score's rank IC against the realised return, correct
    direction calls and labelled rows, and the top-minus-bottom-quintile mean return."""
    score, ret = pred[f"ensemble_ret_{horizon}"], pred[f"ret_{horizon}"]
    dcol = f"target_dir_{horizon}" if f"target_dir_{horizon}" in pred else f"dir_{horizon}"
    ok = score.notna() & ret.notna()
    p = pred.loc[ok]
    dates = p["timestamp"].to_numpy()
    ic = per_date_rank_ic(score[ok].to_numpy(), ret[ok].to_numpy(), dates)
    up_call = p[f"ensemble_prob_{horizon}"] > 0.5
    labelled = p[dcol].notna()
    up = (p[dcol] > 0.5) & labelled
    correct = (up_call == up) & labelled
    q = p.groupby("timestamp")[score.name].rank(pct=True)
    top, bottom = q > 0.8, q <= 0.2
    g = (
        pd.DataFrame(
            {
                "timestamp": dates,
                "correct": correct.to_numpy(),
                "labelled": labelled.to_numpy(),
                "up": up.to_numpy(),
                "top_ret": np.where(top, p[ret.name], 0.0),
                "n_top": top.to_numpy(),
                "bottom_ret": np.where(bottom, p[ret.name], 0.0),
                "n_bottom": bottom.to_numpy(),
            }
        )
        .groupby("timestamp")
        .sum()
    )
    g["ic"] = ic.reindex(g.index)
    return g


def compare_runs(
    run_dirs: list[Path], horizon: int | None = None, n_boot: int = 1000, block: int = 20
) -> Comparison:
    """Configs diffed and scorecards on the test rows every run holds, each run against the
    first with a paired date-block bootstrap CI of the difference."""
    if len(run_dirs) < 2:
        raise ConfigError("compare needs at least two runs")
    names = [Path(r).name for r in run_dirs]
    loaded = [load_run(r) for r in run_dirs]
    h = horizon or int(loaded[0][0].get("ensemble", {}).get("horizon", 3))
    shared = _shared_rows([p for _, p in loaded], h)
    frames = [per_date_frame(p.merge(shared, on=list(KEYS)), h) for _, p in loaded]
    dates = reduce(pd.Index.intersection, [f.index for f in frames])
    frames = [f.loc[dates] for f in frames]
    card = pd.DataFrame([_point(f) for f in frames], index=names)
    idx = block_bootstrap_indices(len(dates), n_boot, block, np.random.default_rng(0))
    diffs = []
    for name, f in zip(names[1:], frames[1:], strict=True):
        for m in METRICS:
            boot = _stat(f, m, idx) - _stat(frames[0], m, idx)
            lo, hi = percentile_interval(boot)
            d = card.loc[name, m] - card.loc[names[0], m]
            diffs.append(
                {
                    "run": name,
                    "vs": names[0],
                    "metric": m,
                    "difference": d,
                    "ci_lo": lo,
                    "ci_hi": hi,
                }
            )
    period = [str(pd.Timestamp(d).date()) for d in (dates.min(), dates.max())]
    info = {"rows": len(shared), "dates": len(dates), "horizon": h}
    info |= {"start": period[0], "end": period[1]}
    cfg_diff = config_diff([c for c, _ in loaded], names)
    return Comparison(names, cfg_diff, card, pd.DataFrame(diffs), info)


def _shared_rows(preds: list[pd.DataFrame], h: int) -> pd.DataFrame:
    keys = None
    for p in preds:
        k = p.loc[p[f"ret_{h}"].notna(), list(KEYS)]
        keys = k if keys is None else keys.merge(k, on=list(KEYS))
    if keys is None or keys.empty:
        raise ConfigError("the runs share no labelled test rows: nothing to compare")
    return keys


def _point(f: pd.DataFrame) -> dict:
    """The metrics on all shared dates, and the majority rate next to the accuracy."""
    out = {m: float(_stat(f, m, np.arange(len(f))[None, :])[0]) for m in METRICS}
    up = f["up"].sum() / max(f["labelled"].sum(), 1)
    return out | {"majority_rate": float(max(up, 1 - up))}


def _stat(f: pd.DataFrame, metric: str, idx: np.ndarray) -> np.ndarray:
    """The metric on each resampled set of dates (rows of `idx`): the mean per-date IC, the
    pooled accuracy, or the mean top-minus-bottom quintile return in basis points."""
    if metric == "date_rank_ic":
        return np.nanmean(f["ic"].to_numpy()[idx], axis=1)
    if metric == "accuracy":
        return f["correct"].to_numpy()[idx].sum(1) / f["labelled"].to_numpy()[idx].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        top = f["top_ret"].to_numpy() / f["n_top"].to_numpy()
        bottom = f["bottom_ret"].to_numpy() / f["n_bottom"].to_numpy()
    return np.nanmean((top - bottom)[idx], axis=1) * 1e4


def to_html(c: Comparison) -> str:
    """The comparison as one self-contained HTML page (three tables)."""
    s = c.shared
    head = (
        f"<h1>Runs compared: {', '.join(c.runs)}</h1><p>Shared test rows: {s['rows']:,} on "
        f"{s['dates']:,} dates, {s['start']} .. {s['end']}, horizon {s['horizon']} bars. "
        "Differences against the first run with a 95% paired moving-block bootstrap CI over "
        "dates (20-date blocks).</p>"
    )
    style = (
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{padding:3px 8px;border:1px solid #ccc}</style>"
    )
    parts = [
        "<h2>Config keys that differ</h2>", c.config_diff.to_html(),
        "<h2>Test scorecard on the shared rows</h2>", c.scorecard.to_html(float_format="%.4f"),
        "<h2>Differences</h2>", c.differences.to_html(index=False, float_format="%.4f"),
    ]  # fmt: skip
    body = f"<body>{head}{''.join(parts)}</body>"
    return f"<html><head><meta charset='utf-8'>{style}</head>{body}</html>"
