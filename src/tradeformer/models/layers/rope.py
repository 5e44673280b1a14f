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
        self._rotation_cache: dict[tuple, torch.Tensor] = {}  # (T, device, dtype) -> (T, d/2)

    def angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = positions.float()[:, None] * self.inv_freq[None, :]  # (T, d/2)
        return theta.cos(), theta.sin()

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x: (..., T, d_head) -> same shape, rotated by position (default 0..T-1).

        In float32/64 each pair is one complex number and the rotation one complex product
        (x1 + i x2)(cos + i sin), with the rotations of 0..T-1 cached: one op instead of ~10
        per call (the same numbers); other dtypes (bf16 under autocast) and compiled code take the
        real form."""
        t = x.shape[-2]
        pos = positions if positions is not None else torch.arange(t, device=x.device)
        eager = not torch.compiler.is_compiling()  # inductor has no complex kernels
        if eager and x.dtype in (torch.float32, torch.float64) and _pairs_viewable(x):
            rot = self._rotations(pos, x.dtype) if positions is not None else self._cached(t, x)
            pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)))
            return torch.view_as_real(pairs * rot).flatten(-2)
        cos, sin = self.angles(pos)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        return out.flatten(-2)

    def _rotations(self, positions: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        cos, sin = self.angles(positions)
        return torch.complex(cos.to(dtype), sin.to(dtype))  # (T, d/2)

    def _cached(self, t: int, x: torch.Tensor) -> torch.Tensor:
        key = (t, x.device, x.dtype)
        if key not in self._rotation_cache:
            rot = self._rotations(torch.arange(t, device=x.device), x.dtype)
            self._rotation_cache[key] = rot
        return self._rotation_cache[key]


def _pairs_viewable(x: torch.Tensor) -> bool:
    """Whether `view_as_complex` can read x's last axis as pairs: unit stride there, every
    other stride and the storage offset even."""
    return (
        x.stride(-1) == 1
        and x.storage_offset() % 2 == 0
        and all(s % 2 == 0 for s in x.stride()[:-1])
    )
