"""`tradeformer tune` on a tiny space: trials read validation folds only (the test period's
labels can be anything: same objective), a study resumes and completes its N trials, a killed
worker's trial is failed and retried, two workers share one study, the best config loads."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from tests.conftest import iid_bars, tiny_config
from tradeformer.config import load_config
from tradeformer.tuning.baseline import run_baseline
from tradeformer.tuning.space import load_space
from tradeformer.tuning.study import TuneSpec, make_config, run_trial, tune

SPACE = {
    "training.max_lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
    "models.timeformer.overrides.d_model": {"type": "categorical", "choices": [8, 16]},
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tune")
    source = iid_bars(tmp / "bars", n_symbols=6, seed=5, start="2008-01-02")
    cfg = tiny_config(source, tmp)
    path = tmp / "base.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    (tmp / "space.yaml").write_text(yaml.safe_dump(SPACE))
    return tmp, path


def _spec(tmp, config, name: str, trials: int) -> TuneSpec:
    return TuneSpec(config=config, space=load_space(tmp / "space.yaml"), trials=trials,
                    storage=f"sqlite:///{tmp}/tune.db", study_name=name, out_dir=tmp / name,
                    heartbeat_s=1, grace_s=2)  # fmt: skip


def test_a_trial_never_reads_the_test_period(setup):
    tmp, config = setup
    cfg = make_config(_spec(tmp, config, "t", 1), {"training.max_lr": 1e-3}, seed=3)

    def blank_test_labels(u, calendar):
        rows = u.rows_between(calendar.test_start, calendar.test_end, labeled=False)
        u.ret[rows] = np.nan
        u.direction[rows] = np.nan

    v1, s1 = run_trial(cfg, tmp / "plain", "ensemble")
    v2, s2 = run_trial(cfg, tmp / "blanked", "ensemble", label_hook=blank_test_labels)
    assert v1 == v2 and s1 == s2 and np.isfinite(v1)
    assert set(s1) == {"timeformer", "tft", "ensemble"}
    for run in ("plain", "blanked"):
        assert not (tmp / run / "test_predictions.parquet").exists()
        assert not (tmp / run / "bundle").exists()
    oof = pd.read_parquet(tmp / "plain" / "oof.parquet")
    assert oof["timestamp"].max() < pd.Timestamp(cfg.calendar.test_start)


def test_study_resumes_to_n_trials_and_writes_the_best_config(setup):
    tmp, config = setup
    encoders = tmp / "cache" / "embeddings" / "local-models"
    before = set(encoders.iterdir()) if encoders.exists() else set()
    study = tune(_spec(tmp, config, "resume", 2))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    study = tune(_spec(tmp, config, "resume", 3))  # the same command later: one more trial
    assert len(study.trials) == 3 and len({t.user_attrs["seed"] for t in study.trials}) == 3
    trials = pd.read_csv(tmp / "resume" / "trials.csv")
    assert len(trials) == 3 and trials["value"].notna().all()
    best = load_config(tmp / "resume" / "best.yaml")
    top = max(study.trials, key=lambda t: t.value)
    assert best.training.max_lr == pytest.approx(top.params["training.max_lr"])
    assert best.seed == top.user_attrs["seed"]
    # the trials varied the models' seed but shared one embedding (the study's base seed):
    # one local encoder trained, not one per trial
    base_seed = study.user_attrs["base_seed"]
    runs = [tmp / "resume" / f"trial_{t.number:04d}" / "config.yaml" for t in study.trials]
    assert {load_config(c).embedding.seed for c in runs} == {base_seed}
    assert best.embedding.seed == base_seed
    assert len(set(encoders.iterdir()) - before) <= 1


def _cli(tmp, config, name: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "tradeformer.cli", "tune", "--config", str(config),
            "--space", str(tmp / "space.yaml"), "--trials", str(trials), "--storage",
            f"sqlite:///{tmp}/cli.db", "--study", name, "--out", str(tmp / name),
            "--heartbeat", "1"]  # fmt: skip


def test_two_workers_share_a_study_and_a_killed_trial_is_retried(setup):
    tmp, config = setup
    procs = [subprocess.Popen(_cli(tmp, config, "shared", 3), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(2)]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read().decode()[-2000:]
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{tmp}/cli.db")
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) >= 3 and len({t.number for t in study.trials}) == len(study.trials)

    proc = subprocess.Popen(_cli(tmp, config, "killed", 2), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    first = tmp / "killed" / "trial_0000"
    deadline = time.monotonic() + 300
    while not first.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    time.sleep(4)  # past the heartbeat's grace (3 s): the running trial is stale
    again = subprocess.run(_cli(tmp, config, "killed", 2), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{tmp}/cli.db")
    states = [t.state.name for t in study.trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 2, states


def test_baseline_runs_the_untouched_config_at_the_first_trials_seeds(setup):
    tmp, config = setup
    base = load_config(config)
    spec = _spec(tmp, config, "base", 1)
    table = run_baseline(spec, 2, base_seed=base.seed)
    assert table["seed"].tolist() == [base.seed, base.seed + 1]
    assert table["value"].between(-1, 1).all() and "oof_ic:ensemble" in table
    runs = [load_config(tmp / "base" / f"baseline_{i:02d}" / "config.yaml") for i in range(2)]
    assert [c.seed for c in runs] == [base.seed, base.seed + 1]
    assert {c.embedding.seed for c in runs} == {base.seed}
    assert all(c.training.max_lr == base.training.max_lr for c in runs)
    oof = tmp / "base" / "baseline_00" / "oof.parquet"
    stamp = oof.stat().st_mtime_ns
    again = run_baseline(spec, 2, base_seed=base.seed)  # a rerun reuses the finished runs
    pd.testing.assert_frame_equal(table, again)
    assert oof.stat().st_mtime_ns == stamp
    assert (tmp / "base" / "baseline.csv").exists()


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "spaces").glob("*.yaml")), ids=str)
def test_shipped_spaces_load_and_name_real_config_keys(path, tmp_path):
    space = load_space(path)
    values = {k: (s["choices"][0] if s["type"] == "categorical" else s["low"])
              for k, s in space.items()}  # fmt: skip
    spec = TuneSpec(config=ROOT / "configs" / "daily100_cs.yaml", space=space, trials=1,
                    storage="sqlite://", study_name="x", out_dir=tmp_path)  # fmt: skip
    cfg = make_config(spec, values, seed=0)  # an unknown key fails here, as `--set` would
    assert space and cfg.seed == 0
