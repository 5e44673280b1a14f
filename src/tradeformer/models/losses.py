"""Losses: heteroscedastic Gaussian NLL, pinball (quantile) loss, direction BCE with logits,
and Kendall et al. (2018) learned task weighting `exp(-s) * L + s`. NaN targets are masked."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp_min(1)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """0.5 * (log_var + (y - mean)^2 / exp(log_var)), averaged over labelled entries."""
    mask = ~torch.isnan(target)
    y = torch.nan_to_num(target)
    nll = 0.5 * (log_var + (y - mean) ** 2 * torch.exp(-log_var))
    return _masked_mean(nll, mask)


def quantile_loss(
    pred: torch.Tensor, target: torch.Tensor, quantiles: Sequence[float]
) -> torch.Tensor:
    """Pinball loss; pred (B, H, Q), target (B, H)."""
    q = torch.as_tensor(quantiles, dtype=pred.dtype, device=pred.device)
    mask = ~torch.isnan(target)
    err = torch.nan_to_num(target).unsqueeze(-1) - pred
    loss = torch.maximum(q * err, (q - 1) * err).mean(-1)
    return _masked_mean(loss, mask)


def direction_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits (numerically stable), masked where the label is NaN."""
    mask = ~torch.isnan(target)
    bce = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(target), reduction="none")
    return _masked_mean(bce, mask)


class MultiTaskLoss(nn.Module):
    """Kendall et al.: total = sum_i exp(-s_i) * L_i + s_i, one learned s_i per task."""

    def __init__(self, n_tasks: int):
        super().__init__()
        self.log_vars = nn.Parameter(torch.zeros(n_tasks))

    def forward(self, losses: Sequence[torch.Tensor]) -> torch.Tensor:
        s = self.log_vars
        return sum(torch.exp(-s[i]) * loss + s[i] for i, loss in enumerate(losses))


def per_group_correlation(
    pred: torch.Tensor,
    target: torch.Tensor,
    group: torch.Tensor,
    min_size: int = 3,
    n_groups: int | None = None,
) -> torch.Tensor:
    """Mean Pearson correlation of `pred` and `target` (B, H) within each group (a date),
    over the groups with at least `min_size` labelled members and every column; NaN targets
    are masked. 0 when no group qualifies. `1 - this` is a differentiable ranking loss.
    `n_groups` (the number of groups, when the caller knows it) spares a device sync; the
    result never needs one."""
    if n_groups is None:
        n_groups = int(group.max()) + 1 if group.numel() else 0
    mask = (~torch.isnan(target)).to(pred.dtype)
    y = torch.nan_to_num(target)
    p = pred * mask

    def per_group(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(n_groups, x.shape[1], dtype=x.dtype, device=x.device).index_add_(
            0, group, x
        )

    cnt = per_group(mask)
    safe = cnt.clamp_min(1)
    pc = (p - (per_group(p) / safe)[group]) * mask
    yc = (y - (per_group(y * mask) / safe)[group]) * mask
    cov = per_group(pc * yc)
    den = torch.sqrt(per_group(pc * pc) * per_group(yc * yc) + 1e-12)
    valid = (cnt >= min_size).to(cov.dtype)
    # the mean over valid groups without reading `valid` on the host (0 when none is valid)
    return (cov / den * valid).sum() / valid.sum().clamp_min(1.0) + pred.sum() * 0.0
