"""TFT-XL: a Temporal Fusion Transformer (Lim et al. 2019) over 5 price channels + 29 classical
features, each its own variable, with the foundation embedding as a static covariate.

VSN (per-variable GRNs, weights conditioned on the static context) -> LSTM encoder (state
initialised from the static context) -> gated skip -> static enrichment (GRN with context) ->
interpretable multi-head attention (causal, shared values) -> position-wise GRNs -> gated skip
-> quantile head (P10/P50/P90, non-crossing) and direction head, read at the last bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tradeformer.models.base import ForecastModel, PresetConfig
from tradeformer.models.layers import (
    GatedLinearUnit,
    GatedResidualNetwork,
    InterpretableMultiHeadAttention,
    VariableEmbedding,
    VariableSelectionNetwork,
    attention_entropy,
)
from tradeformer.models.losses import direction_loss, quantile_loss
from tradeformer.models.outputs import ModelOutput

PRICE_VARIABLES = ("open", "high", "low", "close", "volume")
GAUSS_P10_P90 = 2.5631  # (P90 - P10) of a standard normal


@dataclass(frozen=True)
class TFTConfig(PresetConfig):
    lookback: int = 120
    price_dim: int = 5
    context_dim: int = 29
    embed_dim: int = 512  # 0: no foundation embedding (a learned static vector instead)
    hidden: int = 256
    var_dim: int = 16
    select_dim: int | None = None  # None: per-variable GRNs output `hidden` (the paper)
    variable_encoder: str = "grn"  # "grn" (the paper) or "linear" (cheaper, see layers/vsn.py)
    # grn: train the per-variable GRNs this many (batch x time) rows at a time under activation
    # checkpointing (memory bounded by the chunk; ~one more forward of them); None: all at once
    variable_checkpoint_rows: int | None = None
    n_heads: int = 8
    lstm_layers: int = 2
    attn_layers: int = 3
    grn_layers: int = 3
    dropout: float = 0.1
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    n_horizons: int = 3


TFT_PRESETS: dict[str, dict] = {
    # hidden 256, 8 heads, 2 LSTM layers, 3 attention layers, 3 GRNs; the per-variable GRNs
    # checkpointed in chunks of 32,768 rows (peak memory at batch 64 on a CPU: 0.92 GiB, not
    # 2.25; the linear encoder's is 0.98)
    "spec": {"variable_checkpoint_rows": 32_768},
    "small": {  # variable_encoder linear: same accuracy on daily100, ~4x faster (docs/models.md)
        "hidden": 32,
        "var_dim": 8,
        "select_dim": 8,
        "variable_encoder": "linear",
        "n_heads": 4,
        "lstm_layers": 1,
        "attn_layers": 1,
        "grn_layers": 1,
    },
}
TFTConfig.PRESETS = TFT_PRESETS


class QuantileHead(nn.Module):
    """Non-crossing quantiles: the median plus cumulative softplus steps either side."""

    def __init__(self, d_in: int, n_horizons: int, quantiles: tuple[float, ...]):
        super().__init__()
        qs = list(quantiles)
        if qs != sorted(qs) or 0.5 not in qs:
            raise ValueError(f"quantiles must be sorted and include 0.5, got {quantiles}")
        self.median = qs.index(0.5)
        self.n_q, self.h = len(qs), n_horizons
        self.proj = nn.Linear(d_in, n_horizons * len(qs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.proj(x).view(-1, self.h, self.n_q)
        mid = raw[..., self.median : self.median + 1]
        lower = raw[..., : self.median].flip(-1)
        upper = raw[..., self.median + 1 :]
        below = mid - torch.cumsum(F.softplus(lower), dim=-1)
        above = mid + torch.cumsum(F.softplus(upper), dim=-1)
        return torch.cat([below.flip(-1), mid, above], dim=-1)


class TFTXL(ForecastModel):
    """See module docstring. forward(price (B,L,5), embedding (B,E) | None, context)."""

    veto_diagnostics = ("q_range",)

    def __init__(self, config: TFTConfig | None = None, variable_names: list[str] | None = None):
        super().__init__()
        c = self.config = config or TFTConfig()
        h = c.hidden
        self.n_vars = c.price_dim + c.context_dim
        self.variable_names = variable_names or [
            *PRICE_VARIABLES[: c.price_dim],
            *(f"context_{i}" for i in range(c.context_dim)),
        ]
        if len(self.variable_names) != self.n_vars:
            raise ValueError(f"{len(self.variable_names)} names for {self.n_vars} variables")
        if c.embed_dim:
            self.static_encoder = GatedResidualNetwork(c.embed_dim, h, h, dropout=c.dropout)
        else:
            self.static_vector = nn.Parameter(torch.zeros(h))
        self.static_contexts = nn.ModuleList(
            GatedResidualNetwork(h, h, h, dropout=c.dropout) for _ in range(4)
        )  # variable selection, enrichment, LSTM h0, LSTM c0
        self.embed = VariableEmbedding(self.n_vars, c.var_dim)
        self.vsn = VariableSelectionNetwork(
            self.n_vars,
            c.var_dim,
            h,
            d_context=h,
            dropout=c.dropout,
            select_dim=c.select_dim,
            encoder=c.variable_encoder,
            checkpoint_rows=c.variable_checkpoint_rows,
        )
        self.lstm = nn.LSTM(
            h,
            h,
            num_layers=c.lstm_layers,
            batch_first=True,
            dropout=c.dropout if c.lstm_layers > 1 else 0.0,
        )
        self.lstm_gate = GatedLinearUnit(h, h, c.dropout)
        self.lstm_norm = nn.LayerNorm(h)
        self.enrichment = GatedResidualNetwork(h, h, h, d_context=h, dropout=c.dropout)
        self.attn = nn.ModuleList(
            InterpretableMultiHeadAttention(h, c.n_heads, c.dropout) for _ in range(c.attn_layers)
        )
        self.attn_gate = nn.ModuleList(GatedLinearUnit(h, h, c.dropout) for _ in self.attn)
        self.attn_norm = nn.ModuleList(nn.LayerNorm(h) for _ in self.attn)
        self.attn_ff = nn.ModuleList(
            GatedResidualNetwork(h, h, h, dropout=c.dropout) for _ in self.attn
        )
        self.grns = nn.ModuleList(
            GatedResidualNetwork(h, 2 * h, h, dropout=c.dropout) for _ in range(c.grn_layers)
        )
        self.out_gate = GatedLinearUnit(h, h, c.dropout)
        self.out_norm = nn.LayerNorm(h)
        self.quantile_head = QuantileHead(h, c.n_horizons, c.quantiles)
        self.direction_head = nn.Linear(h, c.n_horizons)
        self._init_forecast(c.n_horizons)

    def init_arguments(self) -> dict:
        return {"variable_names": list(self.variable_names)}

    def forward(
        self,
        price: torch.Tensor,
        embedding: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        outputs_only: bool = False,
    ) -> ModelOutput:
        """`outputs_only`: the last attention layer and the GRNs after it run for the last
        position only (all the forecast uses); `attention` is then (B, 1, L), not (B, L, L)."""
        c = self.config
        b, length, ctx = self.check_inputs(price, embedding, context)
        if embedding is not None:
            static = self.static_encoder(embedding)
        elif c.embed_dim:
            static = price.new_zeros(b, c.hidden)
        else:
            static = self.static_vector.expand(b, -1)
        c_sel, c_enr, c_h, c_c = (g(static) for g in self.static_contexts)

        values = torch.cat([price, ctx], dim=-1)  # (B, L, V)
        selected, w_var = self.vsn(values, self.embed, c_sel)  # (B, L, h), (B, L, V)
        state = (
            c_h.unsqueeze(0).repeat(c.lstm_layers, 1, 1).contiguous(),
            c_c.unsqueeze(0).repeat(c.lstm_layers, 1, 1).contiguous(),
        )
        lstm_out, _ = self.lstm(selected, state)
        temporal = self.lstm_norm(selected + self.lstm_gate(lstm_out))
        z = self.enrichment(temporal, c_enr.unsqueeze(1))

        causal = torch.ones(length, length, dtype=torch.bool, device=price.device).triu(1)
        w_attn = None
        for i, (attn, gate, norm, ff) in enumerate(
            zip(self.attn, self.attn_gate, self.attn_norm, self.attn_ff, strict=True)
        ):
            last_query = outputs_only and i == len(self.attn) - 1
            y, w_attn = attn(z, causal, last_query=last_query)
            z = ff(norm((z[:, -1:] if last_query else z) + gate(y)))
        for grn in self.grns:
            z = grn(z)
        last = self.out_norm(temporal[:, -1] + self.out_gate(z[:, -1]))

        q_norm = self.quantile_head(last)  # (B, H, Q)
        scale = self.return_scale
        mid = self.quantile_head.median
        spread = (q_norm[..., -1] - q_norm[..., 0]) / GAUSS_P10_P90
        return ModelOutput(
            ret=q_norm[..., mid] * scale,
            dir_logit=self.direction_head(last),
            uncertainty=spread * scale,
            attn_entropy=attention_entropy(w_attn[:, -1:, :]),
            attention=w_attn,
            ret_norm=q_norm[..., mid],
            quantiles=q_norm * scale.unsqueeze(-1),
            quantiles_norm=q_norm,
            var_weights=w_var.mean(dim=1),
            var_weights_t=w_var,
        )

    def loss(
        self, out: ModelOutput, ret: torch.Tensor, direction: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Kendall-weighted quantile (pinball) loss on normalised returns + direction BCE."""
        ql = quantile_loss(out.quantiles_norm, ret / self.return_scale, self.config.quantiles)

        bce = direction_loss(out.dir_logit, direction)
        return self.weighted_loss("quantile", ql, bce, out.ret_norm, ret)
