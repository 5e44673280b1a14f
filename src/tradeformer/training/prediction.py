"""Forecasts of trained members on universe rows: the networks' batches gathered once for
all of them, a tabular member (the boosted ranker) predicting its rows itself."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tradeformer.dataset.arrays import PageBound, release
from tradeformer.dataset.universe import Scaler, Universe, make_batch
from tradeformer.models.registry import is_tabular
from tradeformer.training.inputs import to_tensors


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


def predict_models(
    models: list,
    u: Universe,
    rows: np.ndarray,
    lookback: int,
    scaler: Scaler,
    batch_size: int = 512,
    device: str = "cpu",
) -> list[dict[str, np.ndarray]]:
    """`predict` for several members on the same rows: the networks' batches are gathered
    once; a tabular member (the boosted ranker) predicts the rows itself."""
    nets = [m for m in models if not is_tabular(m)]
    outs = iter(_predict_networks(nets, u, rows, lookback, scaler, batch_size, device))
    return [m.predict_rows(u, rows) if is_tabular(m) else next(outs) for m in models]


@torch.inference_mode()
def _predict_networks(
    models: list[nn.Module],
    u: Universe,
    rows: np.ndarray,
    lookback: int,
    scaler: Scaler,
    batch_size: int,
    device: str,
) -> list[dict[str, np.ndarray]]:
    if not models:
        return []
    for model in models:
        if model.training:  # `.eval()` walks every module: ~1.5 ms per call even when a no-op
            model.eval()
        first = next(model.parameters(), None)
        if first is not None and first.device != torch.device(device):
            model.to(device)  # `.to` walks every module: ~1.6 ms even when nothing moves
    keys = ("ret", "dir_prob", "uncertainty", "attn_entropy", "q_range")
    accs: list[dict[str, list]] = [{k: [] for k in keys} for _ in models]
    pages = PageBound(u.embedding, u.context, u.ohlcv)
    for i in range(0, len(rows), batch_size):
        b = to_tensors(make_batch(u, rows[i : i + batch_size], lookback, scaler), device)
        pages.tick()
        for model, acc in zip(models, accs, strict=True):
            out = model(b["price"], b["embedding"], b["context"], outputs_only=True)
            acc["ret"].append(out.ret.float().cpu().numpy())
            acc["dir_prob"].append(torch.sigmoid(out.dir_logit).float().cpu().numpy())
            acc["uncertainty"].append(out.uncertainty.float().cpu().numpy())
            acc["attn_entropy"].append(out.attn_entropy.float().cpu().numpy())
            q = out.quantiles
            rng_ = (q[..., -1] - q[..., 0]) if q is not None else out.uncertainty * 2.5631
            acc["q_range"].append(rng_.float().cpu().numpy())
    release(u.embedding)  # the rows' pages of a memory-mapped embedding: not kept resident
    return [{k: np.concatenate(v) if v else np.zeros((0,)) for k, v in acc.items()} for acc in accs]
