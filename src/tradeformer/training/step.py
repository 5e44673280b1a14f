"""One optimiser step: the batch's loss (the model's own plus an optional per-date ranking
term), backward (scaled for fp16), clipping, AdamW and the schedule; optionally compiled
(`training.compile`). Nothing in a step waits for the device: losses stay on it and are read
once per epoch."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import torch
from torch import nn

from tradeformer.config import TrainingConfig
from tradeformer.models.losses import per_group_correlation
from tradeformer.training.devices import autocast
from tradeformer.training.inputs import Batch


def batch_loss(
    model: nn.Module,
    net: nn.Module,
    b: dict,
    groups: torch.Tensor,
    cfg: TrainingConfig,
    n_groups: int | None = None,
) -> tuple[torch.Tensor, dict, object]:
    """The model's own loss plus, when `rank_loss_weight` > 0, w * (1 - the mean per-date
    correlation of its normalised return forecast with the target). `outputs_only`: the
    losses read the last bar's forecast only, so layers after the last one that mixes time
    run for that bar alone (same loss and gradients, a fraction of the work)."""
    out = net(b["price"], b["embedding"], b["context"], outputs_only=True)
    loss, parts = model.loss(out, b["ret"], b["dir"])
    if cfg.rank_loss_weight > 0:
        corr = per_group_correlation(out.ret_norm.float(), b["ret"], groups, n_groups=n_groups)
        loss = loss + cfg.rank_loss_weight * (1.0 - corr)
        parts = {**parts, "date_corr": corr.detach()}
    return loss, parts, out


def loss_function(model: nn.Module, net: nn.Module, cfg: TrainingConfig) -> Callable:
    """`(tensors, groups, n_groups) -> loss`, compiled with `torch.compile` when
    `training.compile` is set (same values and gradients as eager within float rounding,
    tests/training/test_step.py)."""

    def fn(tensors: dict, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
        return batch_loss(model, net, tensors, groups, cfg, n_groups)[0]

    if not cfg.compile:
        return fn
    return torch.compile(fn, mode=None if cfg.compile_mode == "default" else cfg.compile_mode)


class TrainStep:
    """The optimiser steps of a fit, on `device` at `cfg.precision`."""

    def __init__(
        self, model: nn.Module, net: nn.Module, optim: tuple, cfg: TrainingConfig, device: str
    ):
        self.model, self.cfg, self.device = model, cfg, device
        self.opt, self.sched, self.grad_scaler = optim
        self.loss = loss_function(model, net, cfg)

    def __call__(self, batch: Batch) -> torch.Tensor:
        """One step on `batch`; returns its loss, detached and left on the device."""
        with autocast(self.device, self.cfg.precision):
            loss = self.loss(batch.tensors, batch.groups, batch.n_groups)
        self.opt.zero_grad(set_to_none=True)
        self.grad_scaler.scale(loss).backward()
        self.grad_scaler.unscale_(self.opt)  # clip the true gradients
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.grad_scaler.step(self.opt)
        self.grad_scaler.update()
        return loss.detach()

    def epoch(self, batches: Iterable[Batch], advance: Callable[[], None]) -> tuple[float, int]:
        """Steps over an epoch's batches: (mean training loss over its rows, rows seen). The
        loss is summed on the device and read once, at the end."""
        total = torch.zeros((), device=self.device)
        seen = 0
        for batch in batches:
            total += self(batch).float() * batch.n
            seen += batch.n
            self.sched.step()
            advance()
        return float(total) / max(seen, 1), seen


def no_grad_forward(model: nn.Module, cfg: TrainingConfig, device: str) -> Callable:
    """The validation forward pass: `(batch) -> (loss, parts, outputs)` without gradients."""
    fn = functools.partial(batch_loss, model, model, cfg=cfg)

    @torch.no_grad()
    def run(batch: Batch):
        with autocast(device, cfg.precision):
            return fn(batch.tensors, batch.groups, n_groups=batch.n_groups)

    return run
