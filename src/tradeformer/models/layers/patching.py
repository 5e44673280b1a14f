"""Patch embedding: non-overlapping patches of `patch_len` bars -> one d_model token each."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbedding(nn.Module):
    """(B, L, C) -> (B, L // patch_len, d_model) with a strided Conv1d (PatchTST-style).

    L must be a multiple of patch_len; the patches are aligned so the last one ends at bar t.
    """

    def __init__(self, in_channels: int, d_model: int, patch_len: int):
        super().__init__()
        self.patch_len = patch_len
        self.proj = nn.Conv1d(in_channels, d_model, kernel_size=patch_len, stride=patch_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] % self.patch_len:
            raise ValueError(f"window length {x.shape[1]} is not a multiple of {self.patch_len}")
        # non-overlapping patches: the strided convolution is one matmul over the (bar,
        # channel) values of each patch, without the (B, C, L) transposes and the conv kernel
        b, length, ch = x.shape
        patches = x.reshape(b, length // self.patch_len, self.patch_len * ch)
        w = self.proj.weight.permute(0, 2, 1).reshape(self.proj.out_channels, -1)
        return F.linear(patches, w, self.proj.bias)
