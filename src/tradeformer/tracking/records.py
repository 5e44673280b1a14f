"""What a run directory says, as tracking records: the config as flat params, per-epoch
histories per member, fold and seed, stage seconds, the evaluation scorecard and tags.
Plain readers of the run's JSON files (no tracking library needed)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tradeformer.config import flatten

PARAM_LIMIT = 6000  # MLflow's longest param value
KEY_SAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")  # MLflow's metric / param key characters


@dataclass(frozen=True)
class Point:
    """One metric value; `step` is the epoch of a history (0 for a single figure)."""

    key: str
    value: float
    step: int = 0


def flat_params(config: dict) -> dict[str, str]:
    """A nested config as `a.b.c -> value` (lists and empty dicts as JSON text)."""
    return {
        KEY_SAFE.sub("_", k): (v if isinstance(v, str) else json.dumps(v))[:PARAM_LIMIT]
        for k, v in flatten(config).items()
    }


def run_params(run_dir: Path) -> dict[str, str]:
    return flat_params(yaml.safe_load((run_dir / "config.yaml").read_text()))


def _finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x and abs(x) < 1e300


def epoch_histories(run_dir: Path) -> list[Point]:
    """`<member>/fold<k>[/seed<s>]/<metric>` at step = epoch, from each network fit's
    `metrics.json`; `<member>/fold<k>/seed<s>/h<h>/<metric>` for the boosted member."""
    points: list[Point] = []
    for path in sorted((run_dir / "deep").glob("*/*/**/metrics.json")):
        parts = path.relative_to(run_dir / "deep").parent.parts  # fold0/tft[/seed1]
        fold, member, *seed = parts
        prefix = "/".join([member, fold, *seed])
        rows = json.loads(path.read_text())
        for row in rows:
            if "epoch" in row:
                step, name = int(row["epoch"]), prefix
            else:  # the boosted member: one row per (seed, horizon), no epochs
                step, name = 0, f"{prefix}/seed{row.get('seed', 0)}/h{row.get('horizon', 0)}"
            for k, v in row.items():
                if k not in ("epoch", "seed", "horizon") and _finite(v):
                    points.append(Point(f"{name}/{k}", float(v), step))
    return points


def summary_points(run_dir: Path) -> list[Point]:
    """Stage seconds, total seconds and the out-of-fold metrics of `summary.json`."""
    path = run_dir / "summary.json"
    if not path.exists():
        return []
    summary = json.loads(path.read_text())
    points = [Point(f"seconds/{k}", float(v)) for k, v in summary.get("stage_seconds", {}).items()]
    if _finite(summary.get("seconds")):
        points.append(Point("seconds/total", float(summary["seconds"])))
    return points + numeric_leaves(summary.get("metrics", {}).get("oof", {}), "oof")


def numeric_leaves(tree: dict, prefix: str) -> list[Point]:
    """Every finite number of a nested dict, keyed by its path."""
    points = []
    for k, v in tree.items():
        key = KEY_SAFE.sub("_", f"{prefix}/{k}")
        if isinstance(v, dict):
            points += numeric_leaves(v, key)
        elif _finite(v):
            points.append(Point(key, float(v)))
    return points


def _with_ci(prefix: str, figures: dict, names: tuple[str, ...]) -> list[Point]:
    points = []
    for name in names:
        if _finite(figures.get(name)):
            points.append(Point(f"{prefix}/{name}", float(figures[name])))
        ci = figures.get(f"{name}_ci")
        if isinstance(ci, list | tuple) and len(ci) == 2 and all(map(_finite, ci)):
            points += [
                Point(f"{prefix}/{name}_ci_low", ci[0]),
                Point(f"{prefix}/{name}_ci_high", ci[1]),
            ]
    return points


def scorecard_points(evaluation: dict) -> list[Point]:
    """The evaluation's scorecard: per horizon and model the per-date rank IC and the
    long-short Sharpe with CIs (cross-section), accuracy next to the majority rate with CIs,
    and each backtest strategy's net Sharpe with its CI."""
    points: list[Point] = []
    for h, models in evaluation.get("cross_section", {}).get("by_horizon", {}).items():
        for model, fig in models.items():
            points += _with_ci(f"test/h{h}/{model}", fig, ("date_rank_ic", "ls_sharpe"))
    for h, models in (evaluation.get("forecasts") or {}).items():
        for model, fig in models.items():
            names = ("accuracy", "majority_rate", "accuracy_minus_majority", "auc")
            points += _with_ci(f"test/h{h}/{model}", fig, names)
    for kind, strategies in (evaluation.get("backtests") or {}).items():
        for strategy, fig in strategies.items():
            key = KEY_SAFE.sub("_", f"backtest/{kind}/{strategy}")
            points += _with_ci(key, fig, ("sharpe", "annual_return", "max_drawdown"))
    return points


def run_tags(run_dir: Path) -> dict[str, str]:
    """Data fingerprint, run directory and git revision of the code that ran."""
    tags = {"run_dir": str(run_dir.resolve()), "git_revision": git_revision()}
    data = run_dir / "data.json"
    if data.exists():
        d = json.loads(data.read_text())
        tags["data_fingerprint"] = str(d.get("data_fingerprint", ""))
        tags["n_symbols"] = str(len(d.get("symbols", [])))
    return tags


def git_revision() -> str:
    """The commit of the source tree tradeformer runs from (`+dirty` with local edits), or
    `unknown` outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")
