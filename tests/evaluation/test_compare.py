"""`compare`: the config diff, scorecards on the shared rows only, and paired CIs that include
0 for two runs without a real difference and exclude it for a run with signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tradeformer.cli import app
from tradeformer.errors import ConfigError
from tradeformer.evaluation.compare import compare_runs, flatten


def _run(folder, seed: int, signal: float, drop_symbol: str | None = None, lr: float = 1e-3):
    """A finished run's two files: 300 dates x 40 names, scores = signal x the realised
    return + noise from `seed`."""
    rng = np.random.default_rng(0)  # the market is the same for every run
    dates = pd.bdate_range("2019-01-01", periods=300)
    syms = [f"S{i:02d}" for i in range(40)]
    idx = pd.MultiIndex.from_product([dates, syms], names=["timestamp", "symbol"])
    ret = rng.normal(0, 0.02, len(idx))
    noise = np.random.default_rng(seed).normal(0, 0.02, len(idx))
    score = signal * ret + noise
    d = pd.DataFrame(index=idx).reset_index()
    d["ret_3"], d["ensemble_ret_3"] = ret, score
    d["ensemble_prob_3"] = 1 / (1 + np.exp(-score / 0.02))
    d["dir_3"] = (ret > 0).astype(float)
    if drop_symbol:
        d = d[d["symbol"] != drop_symbol]
    folder.mkdir(parents=True)
    d.to_parquet(folder / "test_predictions.parquet", index=False)
    cfg = {"seed": seed, "training": {"max_lr": lr}, "ensemble": {"horizon": 3}}
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def test_two_seeds_without_signal_difference_include_zero(tmp_path):
    a, b = _run(tmp_path / "a", 1, 0.0), _run(tmp_path / "b", 2, 0.0, drop_symbol="S05")
    c = compare_runs([a, b], n_boot=400)
    assert c.shared["rows"] == 300 * 39  # S05 is missing from b: left out of both
    assert list(c.config_diff.index) == ["seed"]
    for _, d in c.differences.iterrows():
        assert d.ci_lo < 0 < d.ci_hi, d.metric


def test_a_run_with_signal_is_told_apart(tmp_path):
    a, b = _run(tmp_path / "a", 1, 0.0), _run(tmp_path / "b", 2, 0.3, lr=3e-3)
    c = compare_runs([a, b], n_boot=400)
    ic = c.differences.set_index("metric").loc["date_rank_ic"]
    assert ic.ci_lo > 0 and ic.difference == pytest.approx(
        c.scorecard["date_rank_ic"].iloc[1] - c.scorecard["date_rank_ic"].iloc[0]
    )
    assert set(c.config_diff.index) == {"seed", "training.max_lr"}
    assert 0.49 < c.scorecard["majority_rate"].iloc[0] < 0.52
    res = CliRunner().invoke(app, ["compare", str(a), str(b), "--html", str(tmp_path / "c.html")])
    assert res.exit_code == 0, res.output
    assert "per-date rank IC" in res.output and "yes" in res.output
    assert "Config keys that differ" in (tmp_path / "c.html").read_text()


def test_compare_refuses_what_it_cannot_compare(tmp_path):
    a = _run(tmp_path / "a", 1, 0.0)
    with pytest.raises(ConfigError, match="at least two"):
        compare_runs([a])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="finished training run"):
        compare_runs([a, tmp_path / "empty"])
    assert flatten({"a": {"b": 1, "c": [1, 2]}}) == {"a.b": 1, "a.c": [1, 2]}
