"""One training loop for both deep models (own loop, no framework).

AdamW + OneCycle (the spec's schedule), gradient clipping, early stopping on the validation
loss, bf16/fp16 autocast on a GPU, deterministic seeds and fixed threads on a CPU, a checkpoint
per epoch (state dicts, loaded with `weights_only=True`) so an interrupted fold resumes, rich
progress, and per-epoch metrics in `metrics.csv`/`.json`.

Scaling out: with `torchrun --nproc-per-node N`, when `torch.distributed` is initialised the
model is wrapped in DistributedDataParallel and every rank takes its own `rows[rank::world]`
slice of each epoch; the rest of the loop is unchanged (not exercised on multiple GPUs here).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from tradeformer.config import TrainingConfig
from tradeformer.dataset.universe import Scaler, Universe, make_batch


def pick_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _tensors(batch: dict, device: str) -> dict:
    return {
        k: (torch.as_tensor(v, device=device) if v is not None else None) for k, v in batch.items()
    }


def _autocast(device: str, precision: str):
    if device.startswith("cuda") and precision in ("auto", "bf16", "fp16"):
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _subsample(rows: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    if cap is None or len(rows) <= cap:
        return rows
    return np.sort(rng.choice(rows, size=cap, replace=False))


@torch.no_grad()
def evaluate_loss(
    model: nn.Module,
    u: Universe,
    rows: np.ndarray,
    cfg: TrainingConfig,
    scaler: Scaler,
    device: str,
) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for i in range(0, len(rows), cfg.batch_size):
        r = rows[i : i + cfg.batch_size]
        b = _tensors(make_batch(u, r, cfg.lookback, scaler), device)
        with _autocast(device, cfg.precision):
            out = model(b["price"], b["embedding"], b["context"])
            loss, parts = model.loss(out, b["ret"], b["dir"])
        for k, v in {"loss": loss.detach(), **parts}.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(r)
        n += len(r)
    return {k: v / max(n, 1) for k, v in sums.items()}


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
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rank, world = _dist()

    scale = np.nanstd(u.ret[train_rows], axis=0)
    model.set_return_scale(scale.tolist())
    model.to(device)
    net = model
    if world > 1:  # pragma: no cover - multi-process only
        net = nn.parallel.DistributedDataParallel(model)

    per_epoch = min(len(train_rows), cfg.max_samples_per_epoch or len(train_rows))
    steps_per_epoch = max(1, math.ceil(per_epoch / world / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=cfg.max_lr,
        epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=cfg.pct_start,
    )
    val_eval = _subsample(val_rows, cfg.max_eval_samples, np.random.default_rng(seed + 1))

    ckpt = out_dir / "checkpoint.pt"
    history: list[dict] = []
    best, best_loss, start_epoch, bad = None, float("inf"), 0, 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, best_loss, bad = (
            int(state["epoch"]) + 1,
            float(state["best_loss"]),
            int(state["bad_epochs"]),
        )
        best = state["best_model"]
        history = json.loads((out_dir / "metrics.json").read_text())
        rng = np.random.default_rng([seed, start_epoch])
        torch.manual_seed(seed + start_epoch)

    with Progress(disable=not progress, transient=True) as bar:
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            model.train()
            rows = rng.permutation(train_rows)[:per_epoch][rank::world]
            task = bar.add_task(f"{label} epoch {epoch + 1}/{cfg.epochs}", total=steps_per_epoch)
            total, seen = 0.0, 0
            for i in range(steps_per_epoch):
                r = rows[i * cfg.batch_size : (i + 1) * cfg.batch_size]
                if len(r) == 0:
                    sched.step()
                    continue
                b = _tensors(make_batch(u, r, cfg.lookback, scaler), device)
                with _autocast(device, cfg.precision):
                    out = net(b["price"], b["embedding"], b["context"])
                    loss, _ = model.loss(out, b["ret"], b["dir"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(r)
                seen += len(r)
                bar.advance(task)
            bar.remove_task(task)
            val = evaluate_loss(model, u, val_eval, cfg, scaler, device)
            rec = {
                "epoch": epoch + 1,
                "train_loss": total / max(seen, 1),
                **{f"val_{k}": v for k, v in val.items()},
                "lr": sched.get_last_lr()[0],
                "seconds": time.perf_counter() - t0,
            }
            history.append(rec)
            if val["loss"] < best_loss - 1e-6:
                best_loss, bad = val["loss"], 0
                best = copy.deepcopy(model.state_dict())
            else:
                bad += 1
            _write_history(out_dir, history)
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "epoch": epoch,
                    "best_loss": best_loss,
                    "bad_epochs": bad,
                    "best_model": best,
                },
                ckpt,
            )
            if bad >= cfg.patience:
                break
    if best is not None:
        model.load_state_dict(best)
    return model.cpu().eval(), history


def _write_history(out_dir: Path, history: list[dict]) -> None:
    (out_dir / "metrics.json").write_text(json.dumps(history, indent=2))
    with open(out_dir / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)


def predict(
    model: nn.Module,
    u: Universe,
    rows: np.ndarray,
    lookback: int,
    scaler: Scaler,
    batch_size: int = 512,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Per-sample outputs: ret, dir_prob, uncertainty (n, H), attn_entropy (n,), q_range."""
    return predict_models([model], u, rows, lookback, scaler, batch_size, device)[0]


@torch.inference_mode()
def predict_models(
    models: list[nn.Module],
    u: Universe,
    rows: np.ndarray,
    lookback: int,
    scaler: Scaler,
    batch_size: int = 512,
    device: str = "cpu",
) -> list[dict[str, np.ndarray]]:
    """`predict` for several models on the same rows: each batch is gathered once."""
    for model in models:
        if model.training:  # `.eval()` walks every module: ~1.5 ms per call even when a no-op
            model.eval()
        first = next(model.parameters(), None)
        if first is not None and first.device != torch.device(device):
            model.to(device)  # `.to` walks every module: ~1.6 ms even when nothing moves
    keys = ("ret", "dir_prob", "uncertainty", "attn_entropy", "q_range")
    accs: list[dict[str, list]] = [{k: [] for k in keys} for _ in models]
    for i in range(0, len(rows), batch_size):
        b = _tensors(make_batch(u, rows[i : i + batch_size], lookback, scaler), device)
        for model, acc in zip(models, accs, strict=True):
            out = model(b["price"], b["embedding"], b["context"], outputs_only=True)
            acc["ret"].append(out.ret.float().cpu().numpy())
            acc["dir_prob"].append(torch.sigmoid(out.dir_logit).float().cpu().numpy())
            acc["uncertainty"].append(out.uncertainty.float().cpu().numpy())
            acc["attn_entropy"].append(out.attn_entropy.float().cpu().numpy())
            q = out.quantiles
            rng_ = (q[..., -1] - q[..., 0]) if q is not None else out.uncertainty * 2.5631
            acc["q_range"].append(rng_.float().cpu().numpy())
    return [{k: np.concatenate(v) if v else np.zeros((0,)) for k, v in acc.items()} for acc in accs]
