"""The validation score a fit reads after each epoch: its loss (and parts) and the mean
per-date rank IC of the return forecast."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tradeformer.config import TrainingConfig
from tradeformer.stats.ranking import per_date_rank_ic
from tradeformer.training.inputs import DeviceInputs, HostInputs
from tradeformer.training.step import no_grad_forward


def evaluate_loss(
    model: nn.Module,
    inputs: HostInputs | DeviceInputs,
    rows: np.ndarray,
    y_ret: np.ndarray,
    codes: np.ndarray,
    cfg: TrainingConfig,
    device: str,
) -> dict[str, float]:
    """Validation loss (and its parts), weighted by rows, and the mean per-date rank IC of the
    return forecast against the target `y_ret` (all rows), averaged over horizons. Batches
    hold whole dates; sums stay on the device until the end."""
    model.eval()
    rows = rows[np.lexsort((rows, codes[rows]))]  # date-major
    forward = no_grad_forward(model, cfg, device)
    sums: dict[str, torch.Tensor] = {}
    preds = []
    chunks = [rows[i : i + cfg.batch_size] for i in range(0, len(rows), cfg.batch_size)]
    for batch in inputs.batches(chunks):
        loss, parts, out = forward(batch)
        preds.append(out.ret.float())
        for k, v in {"loss": loss.detach(), **parts}.items():
            sums[k] = sums.get(k, 0.0) + torch.as_tensor(v).float() * batch.n
    res = {k: float(v) / max(len(rows), 1) for k, v in sums.items()}
    if preds:
        p, y = torch.cat(preds).cpu().numpy(), y_ret[rows]
        ics = [per_date_rank_ic(p[:, j], y[:, j], codes[rows]).mean() for j in range(y.shape[1])]
        res["rank_ic"] = float(np.nanmean(ics)) if np.isfinite(ics).any() else float("nan")
    return res
