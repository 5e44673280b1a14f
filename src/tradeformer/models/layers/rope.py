"""Rotary position embedding (Su et al. 2021), applied to queries and keys."""

from __future__ import annotations

import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    """Rotates feature pairs (2i, 2i+1) of q and k by angle m * theta_i, theta_i = base^(-2i/d)."""

    def __init__(self, head_dim: int, base: float = 10_000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = positions.float()[:, None] * self.inv_freq[None, :]  # (T, d/2)
        return theta.cos(), theta.sin()

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, H, T, d_head) -> same shape, rotated by position (default 0..T-1)."""
        t = x.shape[-2]
        pos = positions if positions is not None else torch.arange(t, device=x.device)
        cos, sin = self.angles(pos)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        return out.flatten(-2)
