"""`train` killed part-way (a real subprocess, SIGKILL) leaves a run directory that
`train --resume` continues from its last checkpoints to exactly the uninterrupted result."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pandas as pd
import yaml
from typer.testing import CliRunner

from tests.conftest import tiny_config
from tradeformer.cli import app
from tradeformer.stages.pipeline import run_training


def test_killed_training_resumes_to_the_uninterrupted_result(tiny_source, tmp_path):
    cfg = tiny_config(tiny_source, tmp_path, training={"epochs": 3})
    ref = run_training(cfg, run_dir=tmp_path / "ref", progress=False)
    dumped = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)  # members in order
    (tmp_path / "cfg.yaml").write_text(dumped)
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "tradeformer.cli", "train", "--config", str(tmp_path / "cfg.yaml")]
    proc = subprocess.Popen(
        [*cmd, "--run-dir", str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # kill once fold 0's TimeFormer has finished an epoch but not its training
    first = run / "deep" / "fold0" / "timeformer" / "metrics.json"
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (run / "bundle").exists() and not (run / "summary.json").exists()

    runner = CliRunner()
    again = runner.invoke(app, [*cmd[3:], "--run-dir", str(run)])
    assert again.exit_code == 2 and "--resume" in again.output  # never silently mixed
    res = runner.invoke(app, ["train", "--resume", str(run)])
    assert res.exit_code == 0, res.output
    history = pd.read_json(run / "deep" / "fold0" / "timeformer" / "metrics.json")
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))  # no epoch twice
    summary = yaml.safe_load((run / "summary.json").read_text())
    assert summary["weights_hash"] == ref["weights_hash"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(run / "test_predictions.parquet"),
        pd.read_parquet(tmp_path / "ref" / "test_predictions.parquet"),
    )
