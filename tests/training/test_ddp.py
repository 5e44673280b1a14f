"""Data-parallel training: 2 gloo processes on the CPU take the same steps as one process
whose batches are the union of theirs (gradients averaged in backward), and
`torchrun -m tradeformer train` runs the pipeline with rank 0 alone writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml
from safetensors.torch import load_file, save_file

from tests.conftest import tiny_config
from tradeformer.config import ExperimentConfig
from tradeformer.dataset.prepare import open_prepared
from tradeformer.dataset.universe import Scaler
from tradeformer.stages.deep import fit_member
from tradeformer.stages.pipeline import run_training
from tradeformer.training.distributed import shard_batches

BATCH = 32  # per rank; the single process takes 2 x BATCH


def _config(tiny_source, tmp) -> ExperimentConfig:
    over = {"dropout": 0.0, "hidden": 8, "n_heads": 2, "var_dim": 4, "select_dim": 4}
    return tiny_config(
        tiny_source,
        tmp,
        models={"timeformer": {"preset": "small"}, "tft": {"preset": "small", "overrides": over}},
        training={"epochs": 2, "max_samples_per_epoch": 8 * BATCH, "max_eval_samples": 64},
    )


def _train(cfg: ExperimentConfig, run: Path, batch: int, out_dir: Path):
    """TFT-XL on the last fold, `batch` rows a step per process."""
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={"batch_size": batch})})
    data = open_prepared(run, cfg)
    u, fold = data.universe, data.calendar.folds[-1]
    tr = u.rows_between(fold.train_start, fold.train_end)
    va = u.rows_between(fold.val_start, fold.val_end)
    scaler = Scaler.fit(u, tr)
    model, history = fit_member(
        cfg, "tft", u, (tr, va), scaler, seed=cfg.seed, out_dir=out_dir, progress=False
    )
    return model, history


def _worker(rank: int, world: int, init: str, cfg_json: str, run: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        cfg = ExperimentConfig(**json.loads(cfg_json))
        model, history = _train(cfg, Path(run), BATCH, Path(out) / "ddp")
        if rank == 0:
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/ddp.st")
            Path(out, "ddp_history.json").write_text(json.dumps(history))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def prepared(tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    cfg = _config(tiny_source, tmp)
    run_training(cfg, run_dir=tmp / "run", stages=("data",), progress=False)
    return cfg, tmp


def test_two_gloo_processes_match_one_process_with_the_global_batch(prepared):
    cfg, tmp = prepared
    out = tmp / "out"
    out.mkdir()
    init = f"file://{tmp / 'rendezvous'}"
    args = (2, init, cfg.model_dump_json(), str(tmp / "run"), str(out))
    mp.spawn(_worker, args=args, nprocs=2, join=True)
    single, history = _train(cfg, tmp / "run", 2 * BATCH, out / "single")
    ddp = load_file(str(out / "ddp.st"))
    assert history[-1]["epoch"] == 2  # two epochs of 4 optimiser steps each
    moved = 0.0
    for name, w in single.state_dict().items():
        torch.testing.assert_close(ddp[name], w, rtol=1e-4, atol=1e-5, msg=name)
        moved = max(moved, float((w - ddp[name]).abs().max()))
    ddp_hist = json.loads((out / "ddp_history.json").read_text())
    assert [h["val_loss"] for h in ddp_hist] == pytest.approx(
        [h["val_loss"] for h in history], rel=1e-5
    )
    # and the steps really moved the weights (the comparison is not between two inits)
    init_model, _ = _train(
        cfg.model_copy(update={"training": cfg.training.model_copy(update={"epochs": 1})}),
        tmp / "run",
        2 * BATCH,
        out / "one_epoch",
    )
    diff = [
        float((a - b).abs().max())
        for a, b in zip(init_model.state_dict().values(), single.state_dict().values(), strict=True)
    ]
    assert max(diff) > 1e-3


def test_shard_batches_gives_every_rank_the_same_number_of_steps():
    batches = [np.arange(i, i + 1) for i in range(7)]
    ranks = [shard_batches(batches, r, 3) for r in range(3)]
    assert [len(b) for b in ranks] == [2, 2, 2]  # the 7th batch is dropped
    assert sorted(int(b[0]) for r in ranks for b in r) == list(range(6))
    assert [len(shard_batches(batches[:1], r, 2)) for r in range(2)] == [1, 1]
    assert shard_batches(batches, 0, 1) == batches


TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is installed with torch")
def test_torchrun_trains_the_pipeline_with_rank_0_writing(tiny_source, tmp_path):
    cfg = _config(tiny_source, tmp_path)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    cmd = [
        str(TORCHRUN),
        "--nproc-per-node",
        "2",
        "--master-port",
        "29517",
        "-m",
        "tradeformer",
        "train",
        "--config",
        str(path),
        "--run-dir",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path / "run"
    assert (run / "bundle" / "manifest.json").exists()
    assert res.stdout.count("direction at 3 bars") == 1  # one process printed the results
    assert "process group: 2 processes (gloo)" in res.stdout
    assert not (tmp_path / "runs").exists()  # both ranks used the one run directory
