"""The base config's own out-of-fold score under the study's conditions: the untouched config
at k seeds (the seeds the first k trials get, the same pinned embedding), so a study's best
trial is read against the base config's value and its seed spread, not against nothing.
Each run is kept under OUT/baseline_NN/; a rerun reuses the finished ones."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tradeformer.tuning.objective import objective_value
from tradeformer.tuning.study import TuneSpec, make_config, run_trial


def run_baseline(spec: TuneSpec, seeds: int, base_seed: int) -> pd.DataFrame:
    """OUT/baseline.csv: one row per seed (objective value, per-member OOF rank ICs)."""
    rows = []
    for i in range(seeds):
        seed = base_seed + i
        run_dir = spec.out_dir / f"baseline_{i:02d}"
        done = run_dir / "oof_scores.json"
        if done.exists():
            scores = json.loads(done.read_text())
        else:
            cfg = make_config(spec, {}, seed, embedding_seed=base_seed)
            _, scores = run_trial(cfg, run_dir, spec.metric)
            done.write_text(json.dumps(scores, indent=1))
        value = objective_value(scores, spec.metric)
        rows.append({"seed": seed, "value": value, **{f"oof_ic:{k}": v for k, v in scores.items()}})
    table = pd.DataFrame(rows)
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(spec.out_dir / "baseline.csv", index=False)
    return table


def baseline_line(table: pd.DataFrame) -> str:
    """'base config: mean +0.0123 (sd 0.0045, 3 seeds: +0.01, ...)'."""
    v = table["value"].to_numpy()
    sd = f", sd {np.std(v, ddof=1):.4f}" if len(v) > 1 else ""
    each = ", ".join(f"{x:+.4f}" for x in v)
    return f"base config: mean {v.mean():+.4f}{sd} over {len(v)} seeds ({each})"
