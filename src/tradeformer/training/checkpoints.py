"""A fit's state after each epoch (state dicts, loaded with `weights_only=True`) so that an
interrupted fold resumes where it stopped, and its per-epoch history as CSV and JSON."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import torch
from torch import nn

from tradeformer.training.early_stopping import EarlyStopping


def resume(ckpt: Path, model: nn.Module, optim: tuple) -> tuple[int, EarlyStopping, list[dict]]:
    """(first epoch to run, early-stopping state, history) after the last completed epoch in
    `ckpt`, loading the model and optimiser states; a fresh start without one."""
    if not ckpt.exists():
        return 0, EarlyStopping(), []
    state = torch.load(ckpt, weights_only=True)
    opt, sched, grad_scaler = optim
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    if "grad_scaler" in state:
        grad_scaler.load_state_dict(state["grad_scaler"])
    stop = EarlyStopping(
        best_score=float(state["best_score"]),
        bad=int(state["bad_epochs"]),
        best=state["best_model"],
        done=bool(state.get("done", False)),
    )
    return int(state["epoch"]) + 1, stop, json.loads(state.get("history", "[]"))


def save_checkpoint(
    ckpt: Path, model: nn.Module, optim: tuple, epoch: int, stop: EarlyStopping, history: list
) -> None:
    """Everything needed to continue after `epoch`, written atomically (tmp + rename): a
    process killed mid-write leaves the previous checkpoint."""
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    opt, sched, grad_scaler = optim
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "grad_scaler": grad_scaler.state_dict(),
            "epoch": epoch,
            "best_score": stop.best_score,
            "bad_epochs": stop.bad,
            "best_model": stop.best,
            "history": json.dumps(history),
            "done": stop.done,
        },
        tmp,
    )
    os.replace(tmp, ckpt)


def write_history(out_dir: Path, history: list[dict]) -> None:
    (out_dir / "metrics.json").write_text(json.dumps(history, indent=2))
    with open(out_dir / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
