"""Named stages over a run directory: each later stage run alone on an existing run
reproduces its artefacts byte for byte; a stage whose inputs are missing says which stage
writes them."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import tiny_config
from tradeformer.cli import app
from tradeformer.errors import ConfigError, StageError
from tradeformer.stages import parse_stages
from tradeformer.stages.pipeline import run_training

ARTEFACTS = (
    "deep/predictions.safetensors",
    "deep/final/timeformer.safetensors",
    "deep/final/tft.safetensors",
    "deep/final/scaler.safetensors",
    "oof.parquet",
    "veto/veto.txt",
    "veto/veto.json",
    "test_predictions.parquet",
    "metrics.json",
    "bundle/timeformer.safetensors",
    "bundle/tft.safetensors",
    "bundle/veto.txt",
)


def _digests(run: Path) -> dict[str, str]:
    return {a: hashlib.sha256((run / a).read_bytes()).hexdigest() for a in ARTEFACTS}


@pytest.fixture(scope="module")
def run(tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stages")
    cfg = tiny_config(tiny_source, tmp)
    summary = run_training(cfg, run_dir=tmp / "run", progress=False)
    return cfg, Path(summary["run_dir"])


def test_later_stages_alone_reproduce_their_artefacts(run):
    cfg, path = run
    before = _digests(path)
    manifest = json.loads((path / "bundle" / "manifest.json").read_text())
    for name in ("veto/veto.txt", "test_predictions.parquet", "metrics.json", "bundle"):
        target = path / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    run_training(cfg, run_dir=path, stages=("veto", "bundle"), progress=False)
    assert _digests(path) == before
    again = json.loads((path / "bundle" / "manifest.json").read_text())
    assert again["files"] == manifest["files"] and again["models"] == manifest["models"]
    # the deep stage rerun (its checkpoints say every fold is done) gives the same arrays
    run_training(cfg, run_dir=path, stages=("deep",), progress=False)
    assert _digests(path) == before


def test_a_stage_without_its_inputs_names_the_stage_to_run(run, tmp_path):
    cfg, path = run
    with pytest.raises(StageError, match=re.escape("no data.json; run the data stage first")):
        run_training(cfg, run_dir=tmp_path / "empty", stages=("deep",), progress=False)
    partial = tmp_path / "partial"
    partial.mkdir()
    for f in ("data.json", "calendar.json", "config.yaml"):
        shutil.copy(path / f, partial / f)
    with pytest.raises(
        StageError, match=re.escape("no deep/predictions.safetensors; run the deep stage")
    ):
        run_training(cfg, run_dir=partial, stages=("veto",), progress=False)


def test_stage_names():
    assert parse_stages("all") == ("data", "deep", "veto", "bundle")
    assert parse_stages("bundle, veto") == ("veto", "bundle")  # pipeline order
    with pytest.raises(ConfigError, match="unknown stage"):
        parse_stages("veto,bundel")


def test_cli_runs_chosen_stages_of_an_existing_run(run):
    _, path = run
    res = CliRunner().invoke(app, ["train", "--resume", str(path), "--stages", "veto,bundle"])
    assert res.exit_code == 0, res.output
    bad = CliRunner().invoke(app, ["train", "--stages", "veto", "--config", "x.yaml"])
    assert bad.exit_code == 2 and "--resume RUN_DIR" in bad.output
