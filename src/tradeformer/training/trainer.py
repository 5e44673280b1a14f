"""Training one network: `train_model` reads top to bottom; each part lives in its own module.

- `devices.py`: the device, autocast precision, peak memory;
- `batching.py`: an epoch's batches (random rows or whole dates) and the validation rows;
- `inputs.py`: batches as tensors, gathered on the host or on the device;
- `optim.py`: fused AdamW, the OneCycle schedule, the learning rate scaled to the batch;
- `step.py`: one optimiser step and an epoch of them (optionally `torch.compile`d);
- `validation.py`: the validation loss and rank IC after each epoch;
- `early_stopping.py`: the best epoch's weights and the patience;
- `checkpoints.py`: a checkpoint per epoch (an interrupted fold resumes), the history files;
- `distributed.py`: with `torchrun --nproc-per-node N`, DistributedDataParallel and each
  rank's share of the batches (the rest of the loop is unchanged);
- `prediction.py`: forecasts of trained members.

Every fit writes `fit.json` next to its `metrics.csv`: seconds, training samples/s, the share
of time spent waiting for inputs and the peak memory (tradeformer.stages.deep gathers them).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from tradeformer.config import TrainingConfig
from tradeformer.dataset.cross_section import date_codes
from tradeformer.dataset.universe import Scaler, Universe
from tradeformer.execution.memory import trim_heap
from tradeformer.training.batching import epoch_batches, validation_rows
from tradeformer.training.checkpoints import resume, save_checkpoint, write_history
from tradeformer.training.devices import (
    peak_memory_bytes,
    pick_device,
    reset_peak_memory,
    synchronize,
)
from tradeformer.training.distributed import rank_and_world, shard_batches
from tradeformer.training.early_stopping import score
from tradeformer.training.inputs import choose_inputs
from tradeformer.training.optim import build_optimiser
from tradeformer.training.step import TrainStep
from tradeformer.training.validation import evaluate_loss

log = logging.getLogger(__name__)


def train_model(
    model: nn.Module,
    u: Universe,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    cfg: TrainingConfig,
    scaler: Scaler,
    *,
    seed: int,
    out_dir: Path,
    progress: bool = True,
    label: str = "",
) -> tuple[nn.Module, list[dict]]:
    """Train with early stopping; returns the best-validation model and the epoch history."""
    t_start, device = time.perf_counter(), pick_device(cfg.device)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(seed)
    reset_peak_memory(device)
    rank, world = rank_and_world()

    net = _place(model, u.y_ret[train_rows], device, world)
    codes = date_codes(u.timestamps)
    per_epoch = min(len(train_rows), cfg.max_samples_per_epoch or len(train_rows))

    def batches(rng: np.random.Generator) -> list[np.ndarray]:
        rows = epoch_batches(train_rows, codes, cfg, rng, per_epoch, drop_last=cfg.compile)
        return shard_batches(rows, rank, world)

    steps_per_epoch = max(1, len(batches(np.random.default_rng(0))))
    optim = build_optimiser(model, cfg, device, steps_per_epoch)
    val_eval = validation_rows(val_rows, codes, cfg, np.random.default_rng(seed + 1))
    first, stop, history = resume(ckpt := out_dir / "checkpoint.pt", model, optim)
    inputs = choose_inputs(u, cfg.lookback, scaler, codes, device, cfg.inputs)
    step = TrainStep(model, net, optim, cfg, device)
    with Progress(disable=not progress, transient=True) as bar:
        for epoch in range(first, cfg.epochs if not stop.done else 0):
            model.train()
            # each epoch's randomness comes from (seed, epoch) alone: a resumed run draws the
            # same batches and dropout masks as an uninterrupted one
            rng = np.random.default_rng([seed, epoch])
            torch.manual_seed(seed + epoch)
            task = bar.add_task(f"{label} epoch {epoch + 1}/{cfg.epochs}", total=steps_per_epoch)
            t0, waited = time.perf_counter(), inputs.waited
            loss, seen = step.epoch(
                inputs.batches(batches(rng)), functools.partial(bar.advance, task)
            )
            synchronize(device)
            t_train = time.perf_counter() - t0
            bar.remove_task(task)
            trim_heap()  # an epoch's freed batches: back to the OS, not held to the end
            val = evaluate_loss(model, inputs, val_eval, u.y_ret, codes, cfg, device)
            history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": loss,
                    "input_wait_share": (inputs.waited - waited) / max(t_train, 1e-9),
                    **{f"val_{k}": v for k, v in val.items()},
                    "lr": optim[1].get_last_lr()[0],
                    "samples": seen,
                    "train_samples_per_s": seen / max(t_train, 1e-9),
                    "seconds": time.perf_counter() - t0,
                }
            )
            stop.update(model, score(val, cfg), epoch, cfg)
            if rank == 0:
                save_checkpoint(ckpt, model, optim, epoch, stop, history)
                write_history(out_dir, history)
            if stop.done:
                break
    inputs.done()
    if stop.best is not None:
        model.load_state_dict(stop.best)
    record = fit_record(history, cfg, device, type(inputs).__name__, time.perf_counter() - t_start)
    _report(out_dir, record, label)
    return model.cpu().eval(), history


def _place(model: nn.Module, y_train: np.ndarray, device: str, world: int) -> nn.Module:
    """The model on its device with the training targets' scale; the module the steps call
    (DistributedDataParallel around it in a process group, tests/training/test_ddp.py)."""
    model.set_return_scale(np.nanstd(y_train, axis=0).tolist())
    model.to(device)
    return nn.parallel.DistributedDataParallel(model) if world > 1 else model


def fit_record(
    history: list[dict], cfg: TrainingConfig, device: str, inputs: str, seconds: float
) -> dict:
    """Where a fit's time went: wall seconds, the training epochs' samples/s (validation
    excluded), the share of training time spent waiting for inputs, and peak memory."""
    train_s = sum(h["samples"] / h["train_samples_per_s"] for h in history if h.get("samples"))
    samples = sum(h.get("samples", 0) for h in history)
    waits = [
        h["input_wait_share"] * h["samples"] / h["train_samples_per_s"]
        for h in history
        if h.get("samples")
    ]
    return {
        "seconds": seconds,
        "epochs": len(history),
        "train_seconds": train_s,
        "train_samples": samples,
        "train_samples_per_s": samples / train_s if train_s else float("nan"),
        "input_wait_share": sum(waits) / train_s if train_s else float("nan"),
        "peak_memory_bytes": peak_memory_bytes(device),
        "peak_memory_kind": "device allocated" if device.startswith("cuda") else "process RSS",
        "device": device,
        "inputs": "device" if inputs == "DeviceInputs" else "host",
        "batch_size": cfg.batch_size,
        "precision": cfg.precision,
        "compiled": cfg.compile,
    }


def _report(out_dir: Path, record: dict, label: str) -> None:
    (out_dir / "fit.json").write_text(json.dumps(record, indent=2))
    log.info(
        "%s: %d epochs, %s samples in %.1f s (%s samples/s training, %.0f%% waiting for "
        "inputs), peak %s %.2f GiB",
        label or "fit",
        record["epochs"],
        f"{record['train_samples']:,}",
        record["seconds"],
        f"{record['train_samples_per_s']:,.0f}",
        100 * record["input_wait_share"],
        record["peak_memory_kind"],
        record["peak_memory_bytes"] / 2**30,
    )
