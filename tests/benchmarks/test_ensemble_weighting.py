"""The weighting-rule study on a planted OOF frame: member `good` forecasts the return, `noise`
does not; per-horizon rules weigh `good` alone, and its paired gain over equal weights shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _oof(n_dates=300, n_names=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = np.repeat(pd.bdate_range("2016-01-01", periods=n_dates), n_names)
    n = len(dates)
    frame = {"fold": np.repeat(np.arange(3), -(-n // 3))[:n], "timestamp": dates}
    for h in (3, 5):
        ret = rng.normal(size=n)
        frame[f"ret_{h}"] = ret
        frame[f"good_ret_{h}"] = ret + rng.normal(scale=3.0, size=n)  # rank IC ~ 0.3
        frame[f"noise_ret_{h}"] = rng.normal(size=n)
    return pd.DataFrame(frame)


def test_weighting_rules_find_the_planted_member(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _oof().to_parquet(run / "oof.parquet", index=False)
    cfg = {"features": {"horizons": [3, 5]}, "ensemble": {"horizon": 3}}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "w.csv"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "ensemble_weighting.py"), "--run", str(run)]
    res = subprocess.run(
        [*cmd, "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-3000:]
    table = pd.read_csv(out).set_index(["h", "rule"])
    assert set(table.index.get_level_values("rule")) >= {"shipped", "equal", "best"}
    for h in (3, 5):
        assert table.loc[(h, "best"), "ic"] > 0.2
        assert table.loc[(h, "per_horizon"), "ic"] > table.loc[(h, "equal"), "ic"] + 0.02
        assert table.loc[(h, "equal"), "vs_shipped"] < 0  # equal weights dilute `good`
    assert table.loc[(3, "shipped"), "vs_shipped"] == 0
