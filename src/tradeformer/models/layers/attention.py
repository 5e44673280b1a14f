"""Attention layers that return their weights: RoPE self-attention, cross-attention over memory
tokens, and TFT's interpretable multi-head attention (one value projection shared by heads)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tradeformer.models.layers.dropout import Dropout
from tradeformer.models.layers.rope import RotaryEmbedding
from tradeformer.models.layers.softmax import softmax


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of attention rows: (B, [H,] Tq, Tk) -> (B,)."""
    ent = -(weights.clamp_min(1e-12).log() * weights).sum(-1)
    return ent.flatten(1).mean(-1)


class RopeSelfAttention(nn.Module):
    """Multi-head self-attention with rotary embeddings on q and k; returns (out, weights).

    `need_weights=False` returns weights None (for layers whose weights nobody reads) and,
    without dropout (eval), computes the output with torch's fused scaled-dot-product attention;
    in training, attention dropout keeps the explicit form, whose masks (`layers/dropout.py`)
    cost a fraction of SDPA's Bernoulli draws on a CPU."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} not divisible by n_heads {n_heads}")
        self.h, self.dh = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.rope = RotaryEmbedding(self.dh)
        self.dropout = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        (q, k), v = self.rope(qkv[:2]), qkv[2]  # q and k rotated in one call
        if not need_weights and not (self.training and self.dropout.p > 0):
            keep = ~mask if mask is not None else None
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            return self.out(y.transpose(1, 2).reshape(b, t, d)), None
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        w = softmax(scores)
        y = (self.dropout(w) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(y), w if need_weights else None


class _InputProjections(nn.Module):
    """The parameters of `nn.MultiheadAttention` under its names (in_proj_weight, in_proj_bias,
    out_proj), so that state dicts written with it load unchanged; initialised as it is."""

    def __init__(self, d_model: int):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)


class CrossAttention(nn.Module):
    """Queries attend to a set of memory tokens (several, so that the softmax can choose).

    `nn.MultiheadAttention`'s computation (tested against it) in a dozen ops: its Python path
    spent ~60 dispatches per call in training and drew Bernoulli dropout masks."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} not divisible by n_heads {n_heads}")
        self.h, self.dh = n_heads, d_model // n_heads
        self.attn = _InputProjections(d_model)
        self.dropout = Dropout(dropout)

    def forward(
        self, queries: torch.Tensor, memory: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """queries (B, Tq, d), memory (B, M, d) -> (out (B, Tq, d), weights (B, H, Tq, M))."""
        b, tq, d = queries.shape
        w_in, b_in = self.attn.in_proj_weight, self.attn.in_proj_bias
        q = F.linear(queries, w_in[:d], b_in[:d]).view(b, tq, self.h, self.dh).transpose(1, 2)
        kv = F.linear(memory, w_in[d:], b_in[d:]).view(b, -1, 2, self.h, self.dh)
        k, v = kv.permute(2, 0, 3, 1, 4)  # (B, H, M, dh) each
        w = softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh))
        y = (self.dropout(w) @ v).transpose(1, 2).reshape(b, tq, d)
        return self.attn.out_proj(y), w if need_weights else None


class InterpretableMultiHeadAttention(nn.Module):
    """TFT attention: per-head q/k, one value projection shared by all heads, heads averaged,
    so that the averaged weights say which time steps the output used."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} not divisible by n_heads {n_heads}")
        self.h, self.dh = n_heads, d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, self.dh)
        self.out = nn.Linear(self.dh, d_model)
        self.dropout = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, last_query: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(out, weights) for every position, or for the last one only (`last_query`: the
        same numbers as the last row of the full result, at 1/T of the query cost)."""
        b, t, _ = x.shape
        xq = x[:, -1:] if last_query else x
        if last_query and mask is not None:
            mask = mask[-1:]
        q = self.q(xq).view(b, xq.shape[1], self.h, self.dh).transpose(1, 2)
        k = self.k(x).view(b, t, self.h, self.dh).transpose(1, 2)
        v = self.v(x)  # (B, T, dh), shared
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        w = softmax(scores)  # (B, H, T, T)
        y = (self.dropout(w) @ v.unsqueeze(1)).mean(dim=1)  # average heads -> (B, T, dh)
        return self.out(y), w.mean(dim=1)
