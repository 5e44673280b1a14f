"""Gated residual network and gated linear unit (Lim et al. 2019, TFT eq. 2-5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tradeformer.models.layers.dropout import Dropout


class GatedLinearUnit(nn.Module):
    """GLU(x) = sigmoid(W4 x) * (W5 x), with dropout on the input."""

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.proj = nn.Linear(d_in, 2 * d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(self.proj(self.dropout(x)), dim=-1)


class GatedResidualNetwork(nn.Module):
    """GRN(a, c) = LayerNorm(skip(a) + GLU(W1 ELU(W2 a + W3 c))).

    `skip` is a linear projection when input and output widths differ, else the identity.
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int | None = None,
        d_context: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        d_out = d_out or d_in
        self.skip = nn.Linear(d_in, d_out) if d_in != d_out else nn.Identity()
        self.fc_in = nn.Linear(d_in, d_hidden)
        self.fc_ctx = nn.Linear(d_context, d_hidden, bias=False) if d_context else None
        self.fc_hidden = nn.Linear(d_hidden, d_hidden)
        self.glu = GatedLinearUnit(d_hidden, d_out, dropout)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, a: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """`c` broadcasts against `a`: a (B, T, d) with c (B, 1, d_context) adds one context
        projection per sample (cheaper than projecting an expanded copy per step)."""
        return self._gate(self.fc_in(a), self.skip(a), c)

    def forward_embedded(
        self,
        values: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        c: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The GRN of a = flatten(values[..., None] * weight + bias) (V scalars, each embedded
        by its own affine map (V, d)) without forming a: its linear maps are folded into
        (V -> out) ones, the same numbers at 1/d of the input width."""
        w_in, b_in = fold_scalar_embedding(self.fc_in, weight, bias)
        if isinstance(self.skip, nn.Linear):
            skip = F.linear(values, *fold_scalar_embedding(self.skip, weight, bias))
        else:
            skip = (values.unsqueeze(-1) * weight + bias).flatten(-2)
        return self._gate(F.linear(values, w_in, b_in), skip, c)

    def _gate(self, h: torch.Tensor, skip: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.fc_ctx is not None and c is not None:
            h = h + self.fc_ctx(c)
        h = self.fc_hidden(F.elu(h))
        return self.norm(skip + self.glu(h))


def fold_scalar_embedding(
    linear: nn.Linear, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(W', b') with linear(flatten(x[..., None] * weight + bias)) = x @ W'.T + b' for x (..., V)
    and a per-variable embedding weight, bias (V, d)."""
    v, d = weight.shape
    w = linear.weight.view(-1, v, d)
    folded_b = linear.weight @ bias.reshape(-1)
    if linear.bias is not None:
        folded_b = folded_b + linear.bias
    return (w * weight).sum(-1), folded_b
