"""Rolling retrain on a registry: the challenger is scored against the champion on the same
unseen rows and promoted only by the rule (logged with both scores); a retrain killed
mid-way leaves the registry exactly as it was."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradeformer.cli import app
from tradeformer.live import registry as reg
from tradeformer.live.retrain import retrain


@pytest.fixture
def champion(cs_run):
    bundle, store, _, tmp = cs_run
    return bundle, store, tmp


def _registry(champion, tmp_path) -> Path:
    bundle, _, _ = champion
    root = tmp_path / "registry"
    reg.promote(root, reg.publish(bundle, root), "first")
    return root


def _state(root: Path) -> tuple:
    return reg.current_version(root), reg.versions(root), (root / reg.LOG).read_text()


@pytest.mark.parametrize("tolerance", [-1.0, 1.0])  # must beat by 1.0 / may trail by 1.0
def test_promotion_follows_the_rule_and_is_logged(champion, tmp_path, tolerance):
    _, store, _ = champion
    root = _registry(champion, tmp_path)
    first = reg.current_version(root)
    d = retrain(root, store, tolerance=tolerance, progress=False)
    assert d.promoted is (tolerance > 0)
    assert reg.current_version(root) == (d.challenger if d.promoted else first)
    assert d.challenger in reg.versions(root) and d.champion == first
    assert d.n_dates >= 20 and d.block[0] >= "2015-01-01" and d.latest_bar == "2015-06-30"
    assert d.difference_ci[0] <= d.challenger_ic - d.champion_ic <= d.difference_ci[1]
    logged = [json.loads(x) for x in (root / "retrains.jsonl").read_text().splitlines()]
    assert logged[-1]["champion_ic"] == pytest.approx(d.champion_ic)
    assert logged[-1]["challenger_ic"] == pytest.approx(d.challenger_ic)
    if d.promoted:
        assert reg.history(root)[-1]["reason"] == "retrain"
        assert reg.rollback(root) == first  # the previous champion stays loadable


def test_retrain_until_a_date_and_the_cli(champion, tmp_path):
    _, store, _ = champion
    root = _registry(champion, tmp_path)
    args = ["retrain", "--bundle", str(root), "--data", str(store), "--until", "2015-05-29"]
    r = CliRunner().invoke(app, [*args, "--tolerance", "1"])
    assert r.exit_code == 0, r.output
    assert "promoted" in r.output
    (entry,) = [json.loads(x) for x in (root / "retrains.jsonl").read_text().splitlines()]
    assert entry["latest_bar"] == "2015-05-29" and entry["block"][1] < "2015-05-29"
    r = CliRunner().invoke(app, ["retrain", "--bundle", str(tmp_path), "--data", str(store)])
    assert r.exit_code != 0 and "bundles publish" in r.output


def test_a_killed_retrain_leaves_the_registry_as_it_was(champion, tmp_path):
    _, store, _ = champion
    root = _registry(champion, tmp_path)
    before = _state(root)
    code = (
        "import sys; from tradeformer.live.retrain import retrain; "
        "retrain(sys.argv[1], sys.argv[2], tolerance=1.0, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(root), str(store)])
    deadline = time.monotonic() + 120
    while not list((root / "runs").glob("challenger-*/deep/fold0")):  # training has begun
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _state(root) == before
    assert not list((root / "versions").glob(".*"))
