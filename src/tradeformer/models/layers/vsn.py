"""Variable selection network: one GRN per variable + softmax weights over variables (TFT)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tradeformer.models.layers.grn import GatedResidualNetwork


class VariableEmbedding(nn.Module):
    """Each scalar variable v gets its own linear embedding: x_v * w_v + b_v -> (..., V, d)."""

    def __init__(self, n_vars: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_vars, d) / math.sqrt(d))
        self.bias = nn.Parameter(torch.zeros(n_vars, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-1) * self.weight + self.bias


class MultiGRN(nn.Module):
    """V independent GRNs (d_in -> d_out) evaluated at once with batched weights."""

    def __init__(self, n_vars: int, d_in: int, d_hidden: int, d_out: int, dropout: float):
        super().__init__()

        def w(a: int, b: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(n_vars, a, b) / math.sqrt(a))

        self.w_skip = w(d_in, d_out) if d_in != d_out else None
        self.w_in, self.b_in = w(d_in, d_hidden), nn.Parameter(torch.zeros(n_vars, d_hidden))
        self.w_h, self.b_h = w(d_hidden, d_hidden), nn.Parameter(torch.zeros(n_vars, d_hidden))
        self.w_glu, self.b_glu = (
            w(d_hidden, 2 * d_out),
            nn.Parameter(torch.zeros(n_vars, 2 * d_out)),
        )
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., V, d_in) -> (..., V, d_out)
        skip = torch.einsum("...vi,vio->...vo", x, self.w_skip) if self.w_skip is not None else x
        h = F.elu(torch.einsum("...vi,vih->...vh", x, self.w_in) + self.b_in)
        h = torch.einsum("...vi,vih->...vh", h, self.w_h) + self.b_h
        g = torch.einsum("...vi,vio->...vo", self.dropout(h), self.w_glu) + self.b_glu
        return self.norm(skip + F.glu(g, dim=-1))


class VariableSelectionNetwork(nn.Module):
    """Weights over V variables (softmax of a GRN on all of them, with optional static context)
    and the weighted sum of per-variable GRN outputs.

    `select_dim=None` follows the paper (each variable's GRN outputs d_model). An integer makes
    the per-variable GRNs output that width and projects the weighted sum to d_model once: the
    same selection weights at a fraction of the cost (B x T x V x d_model activations dominate
    the paper's version on a CPU).
    """

    def __init__(
        self,
        n_vars: int,
        d_var: int,
        d_model: int,
        d_context: int | None = None,
        dropout: float = 0.0,
        select_dim: int | None = None,
    ):
        super().__init__()
        self.n_vars = n_vars
        self.weights_grn = GatedResidualNetwork(
            n_vars * d_var, d_model, n_vars, d_context=d_context, dropout=dropout
        )
        width = select_dim or d_model
        # per-variable GRNs keep the variable's own small width inside (as pytorch-forecasting)
        self.var_grns = MultiGRN(n_vars, d_var, d_var, width, dropout)
        self.project = nn.Linear(width, d_model) if select_dim else nn.Identity()

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (B, T, V, d_var); context: (B, d_context) -> selected (B, T, d_model), w (B, T, V)
        b, t, v, d = x.shape
        ctx = context.unsqueeze(1).expand(b, t, -1) if context is not None else None
        w = torch.softmax(self.weights_grn(x.reshape(b, t, v * d), ctx), dim=-1)
        selected = (self.var_grns(x) * w.unsqueeze(-1)).sum(dim=-2)
        return self.project(selected), w
