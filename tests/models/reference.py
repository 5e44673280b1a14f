"""Plain reference computations the fast model code is tested against."""

from __future__ import annotations

import torch


def pairwise_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE as the paper writes it: feature pairs (2i, 2i+1) rotated by (cos, sin) (T, d/2)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
