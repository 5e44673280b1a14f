"""Rolling retrain with champion / challenger: the champion's config refitted on the store up
to its latest bar (the walk-forward moved forward: the test period shrinks to that last bar,
so the final models train on every labelled row before it), both scored on the same rows of
the challenger's most recent validation block that the champion never trained on, and the
challenger promoted only if it is not worse by the rule:

    challenger per-date rank IC >= champion per-date rank IC - tolerance   (at the horizon)

Both scores, their paired date-block bootstrap CI and the decision are logged. The challenger
is published to the registry either way (audit); only the pointer decides what is served."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.config import EnsembleConfig, ExperimentConfig
from tradeformer.data.store import BarStore
from tradeformer.dataset.cross_section import date_codes
from tradeformer.errors import ConfigError
from tradeformer.evaluation.metrics import block_bootstrap_indices, percentile_interval
from tradeformer.live import registry as reg
from tradeformer.live.signals import as_of_bar, last_bars, read_bars
from tradeformer.stats.ranking import per_date_rank_ic
from tradeformer.training.ensemble import ensemble_return

log = logging.getLogger(__name__)
MIN_SCORE_DATES = 20
RETRAINS = "retrains.jsonl"


@dataclass
class Decision:
    champion: str
    challenger: str
    promoted: bool
    rule: str
    champion_ic: float
    challenger_ic: float
    difference_ci: tuple[float, float]
    n_dates: int
    n_rows: int
    block: tuple[str, str]
    latest_bar: str
    run_dir: str
    seconds: float


def challenger_config(manifest: dict, store: Path, latest: pd.Timestamp, runs: Path):
    """The champion's config on `store`, its test period cut to the latest bar."""
    raw = json.loads(json.dumps(manifest["config"]))
    raw["data"]["source"] = str(store)
    raw["calendar"]["test_start"] = str(latest.date())
    raw["calendar"]["test_end"] = str(latest.date())
    raw["runs_dir"] = str(runs)
    raw["tracking"] = {**raw.get("tracking", {}), "enabled": False}
    return ExperimentConfig(**raw)


def challenger_scores(run_dir: Path, h: int) -> pd.DataFrame:
    """The challenger's ensemble score on its last validation fold (out of sample), with
    the run's out-of-fold ensemble weights."""
    oof = pd.read_parquet(run_dir / "oof.parquet")
    oof = oof[oof["fold"] == oof["fold"].max()]
    w = json.loads((run_dir / "ensemble_weights.json").read_text())
    cfg = json.loads(json.dumps(json.loads((run_dir / "bundle" / "manifest.json").read_text())))
    ens = EnsembleConfig(**{**cfg["config"]["ensemble"], "weights": w["weights"],
                            "average": w.get("average", 0.0)})  # fmt: skip
    members = {m: oof[f"{m}_ret_{h}"].to_numpy() for m in w["weights"]}
    score = ensemble_return(members, ens, date_codes(oof["timestamp"].to_numpy()))
    return pd.DataFrame({"timestamp": oof["timestamp"].to_numpy(), "symbol": oof["symbol"],
                         "challenger": score, "ret": oof[f"ret_{h}"].to_numpy()})  # fmt: skip


def paired_ic(rows: pd.DataFrame, n_boot: int = 1000) -> tuple[float, float, tuple, int]:
    """Per-date rank IC of both scores on the same rows and the CI of their difference."""
    dates = rows["timestamp"].to_numpy()
    ics = {
        k: per_date_rank_ic(rows[k].to_numpy(), rows["ret"].to_numpy(), dates)
        for k in ("champion", "challenger")
    }
    both = pd.concat(ics, axis=1).dropna()
    if len(both) < MIN_SCORE_DATES:
        raise ConfigError(
            f"only {len(both)} dates of the recent validation block are new to the champion "
            f"(need {MIN_SCORE_DATES}): retrain later, or widen calendar.val_bars"
        )
    idx = block_bootstrap_indices(len(both), n_boot, 10, np.random.default_rng(0))
    diff = both["challenger"].to_numpy() - both["champion"].to_numpy()
    ci = percentile_interval(diff[idx].mean(axis=1))
    return float(both["champion"].mean()), float(both["challenger"].mean()), ci, len(both)


def retrain(
    root: str | Path,
    store: str | Path,
    *,
    until: pd.Timestamp | None = None,
    tolerance: float = 0.0,
    progress: bool = True,
) -> Decision:
    """Refit, score champion and challenger on the same new rows, promote by the rule."""
    from tradeformer.evaluation.out_of_universe import evaluate_bundle
    from tradeformer.stages.pipeline import run_training

    t0 = time.perf_counter()
    root, store = Path(root), Path(store)
    champion = reg.current_version(root)
    champ_dir = root / "versions" / champion
    manifest = json.loads((champ_dir / "manifest.json").read_text())
    bars = BarStore(store)
    tf = bars.default_timeframe()
    universe = manifest["decision"].get("universe") or bars.symbols(tf)
    latest = as_of_bar(last_bars(read_bars(bars, tf, sorted(universe), until)), str(store))
    cfg = challenger_config(manifest, store, latest, root / "runs")
    run_dir = root / "runs" / f"challenger-{time.strftime('%Y%m%d-%H%M%S')}"
    summary = run_training(cfg, run_dir=run_dir, progress=progress)
    h = cfg.ensemble.horizon
    mine = challenger_scores(run_dir, h)
    # the champion's test period starts after its training's last label: unseen from there
    unseen = pd.Timestamp(manifest["calendar"]["test_start"])
    new = mine[mine["timestamp"] >= unseen]
    if new.empty:
        raise ConfigError("the challenger's last validation block holds no date after the "
                          "champion's training: nothing to compare on (retrain later)")  # fmt: skip
    block = (new["timestamp"].min(), new["timestamp"].max())
    out = run_dir / "champion_on_block"
    evaluate_bundle(champ_dir, [store], start=block[0], end=block[1], symbols=list(universe),
                    out_dir=out, n_boot=0, progress=progress)  # fmt: skip
    theirs = pd.read_parquet(out / "test_predictions.parquet")
    theirs = theirs[["timestamp", "symbol", f"ensemble_ret_{h}"]].rename(
        columns={f"ensemble_ret_{h}": "champion"}
    )
    rows = new.merge(theirs, on=["timestamp", "symbol"]).dropna(subset=["ret"])
    champ_ic, chall_ic, ci, n_dates = paired_ic(rows)
    challenger = reg.publish(summary["bundle"], root)
    promoted = chall_ic >= champ_ic - tolerance
    rule = f"challenger IC >= champion IC - {tolerance:g} (per-date rank IC, {h} bars)"
    decision = Decision(champion, challenger, promoted, rule, champ_ic, chall_ic, ci, n_dates,
                        len(rows), (str(block[0].date()), str(block[1].date())),
                        str(latest.date()), str(run_dir), time.perf_counter() - t0)  # fmt: skip
    record = {k: v for k, v in asdict(decision).items() if k not in ("champion", "challenger")}
    if promoted:
        reg.promote(root, challenger, "retrain", champion_before=champion, **record)
    with open(root / RETRAINS, "a") as f:
        f.write(json.dumps(asdict(decision), default=float) + "\n")
    return decision
