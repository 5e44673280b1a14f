"""The prepared GPU check runs end to end on a CPU at its tiny budget and writes one JSON with
throughput rows, stage seconds, per-fit records and test rank ICs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.conftest import iid_bars

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_quick_on_cpu(tmp_path):
    bars = iid_bars(tmp_path / "bars", n_symbols=6)  # six names: a cross-section per date
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick"]
    out = subprocess.run(
        [*cmd, "--data", str(bars), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    rows = res["throughput"]
    assert {r["model"] for r in rows} == {"timeformer small", "tft small grn", "tft small linear"}
    assert all(r["samples_per_s"] > 0 and r["peak_memory_gib"] > 0 for r in rows)
    pipe = res["pipeline"]
    assert set(pipe["stage_seconds"]) == {"data", "deep", "veto", "bundle"}
    fits = [f for f in pipe["fits"] if f["member"] in ("timeformer", "tft")]
    assert len(fits) == 2 * 2  # two networks x two folds
    assert all(f["train_samples_per_s"] > 0 and 0 <= f["input_wait_share"] < 1 for f in fits)
    assert all(f["inputs"] == "host" and f["device"] == "cpu" for f in fits)
    ics = pipe["test_date_rank_ic"]["h3"]
    assert {"timeformer", "tft", "ensemble"} <= set(ics) and all(
        math.isfinite(v) for v in ics.values()
    )


def test_wheels_command_names_every_dependency_but_torch():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--wheels"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "lightgbm" in out.stdout and "pandas" in out.stdout and "'torch" not in out.stdout
