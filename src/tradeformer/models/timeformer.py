"""TimeFormer-XL: patches -> RoPE attention -> cross-modal attention over embedding tokens ->
TCN -> transformer encoder (RoPE) -> GRNs -> multi-task head over the whole sequence.

Fixes to the spec's snippet (DESIGN.md): real rotary embeddings on q/k; the foundation embedding
becomes several memory tokens so cross-attention can choose; the context token goes *first* and
the head reads the context token, the mean of the patch tokens and the last patch (not a linear
map of the context only); Kendall weighting without the double exponential; logits + BCE; a
per-sample predicted variance instead of a per-model constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tradeformer.models.base import ForecastModel, PresetConfig
from tradeformer.models.layers import (
    TCN,
    CrossAttention,
    GatedResidualNetwork,
    PatchEmbedding,
    RopeSelfAttention,
    attention_entropy,
)
from tradeformer.models.layers.dropout import Dropout
from tradeformer.models.losses import direction_loss, gaussian_nll
from tradeformer.models.outputs import ModelOutput

LOG_VAR_LIMIT = 10.0


@dataclass(frozen=True)
class TimeFormerConfig(PresetConfig):
    lookback: int = 120
    patch_len: int = 10
    price_dim: int = 5
    context_dim: int = 29
    embed_dim: int = 512  # 0: no foundation embedding
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 6
    ffn_dim: int = 512
    dropout: float = 0.2
    n_memory_tokens: int = 8
    tcn_layers: int = 3
    tcn_kernel: int = 3
    grn_layers: int = 2
    n_horizons: int = 3


TIMEFORMER_PRESETS: dict[str, dict] = {
    "spec": {},  # the spec's sizes: d_model 256, 8 heads, 6 layers, ffn 512, dropout 0.2
    "small": {
        "d_model": 64,
        "n_heads": 4,
        "n_layers": 2,
        "ffn_dim": 128,
        "dropout": 0.1,
        "n_memory_tokens": 4,
        "tcn_layers": 2,
        "grn_layers": 1,
    },
}
TimeFormerConfig.PRESETS = TIMEFORMER_PRESETS


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer with rotary self-attention and a GELU feed-forward."""

    def __init__(self, d_model: int, n_heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = RopeSelfAttention(d_model, n_heads, dropout)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_dim), nn.GELU(), Dropout(dropout), nn.Linear(ffn_dim, d_model)
        )
        self.dropout = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, w = self.attn(self.norm1(x), need_weights=need_weights)
        x = x + self.dropout(y)
        x = x + self.dropout(self.ffn(self.norm2(x)))
        return x, w


class TimeFormerXL(ForecastModel):
    """See module docstring. forward(price (B,L,5), embedding (B,E) | None, context)."""

    veto_diagnostics = ("attn_entropy",)

    def __init__(self, config: TimeFormerConfig | None = None):
        super().__init__()
        c = self.config = config or TimeFormerConfig()
        d = c.d_model
        self.patch = PatchEmbedding(c.price_dim + c.context_dim, d, c.patch_len)
        self.context_token = nn.Linear(c.context_dim, d)
        self.norm_in = nn.LayerNorm(d)
        self.patch_attn = RopeSelfAttention(d, c.n_heads, c.dropout)
        if c.embed_dim:
            self.memory = nn.Linear(c.embed_dim, c.n_memory_tokens * d)
            self.memory_norm = nn.LayerNorm(d)
            self.cross = CrossAttention(d, c.n_heads, c.dropout)
            self.cross_norm = nn.LayerNorm(d)
        self.tcn = TCN(d, c.tcn_layers, c.tcn_kernel, c.dropout)
        self.encoder = nn.ModuleList(
            EncoderLayer(d, c.n_heads, c.ffn_dim, c.dropout) for _ in range(c.n_layers)
        )
        self.grns = nn.ModuleList(
            GatedResidualNetwork(d, c.ffn_dim, d, d_context=d, dropout=c.dropout)
            for _ in range(c.grn_layers)
        )
        self.head = nn.Sequential(
            nn.LayerNorm(3 * d),
            nn.Linear(3 * d, d),
            nn.GELU(),
            Dropout(c.dropout),
            nn.Linear(d, 3 * c.n_horizons),
        )
        self.dropout = Dropout(c.dropout)
        self._init_forecast(c.n_horizons)

    def forward(
        self,
        price: torch.Tensor,
        embedding: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        outputs_only: bool = False,
    ) -> ModelOutput:
        """Only the last encoder layer's attention weights are formed (they give `attention`
        and `attn_entropy`); the other attentions run fused. `outputs_only` also skips the
        cross-attention weights (`cross_attention` is then None); the pooled head uses every
        token, so no token is skipped."""
        c = self.config
        b, _, ctx = self.check_inputs(price, embedding, context)
        tokens = self.patch(torch.cat([price, ctx], dim=-1))  # (B, P, d)
        ctx_tok = self.context_token(ctx[:, -1])  # the prediction bar's context
        x = self.norm_in(torch.cat([ctx_tok.unsqueeze(1), tokens], dim=1))  # context first
        y, _ = self.patch_attn(x, need_weights=False)
        x = x + self.dropout(y)

        cross_w = None
        if embedding is not None:
            mem = self.memory_norm(self.memory(embedding).view(b, c.n_memory_tokens, c.d_model))
            y, cross_w = self.cross(self.cross_norm(x), mem, need_weights=not outputs_only)
            x = x + self.dropout(y)

        x = torch.cat([x[:, :1], self.tcn(x[:, 1:])], dim=1)  # TCN over the patches
        w = None
        for i, layer in enumerate(self.encoder):
            x, w = layer(x, need_weights=i == len(self.encoder) - 1)
        for grn in self.grns:
            x = grn(x, x[:, :1])  # context token, broadcast over the sequence
        pooled = torch.cat([x[:, 0], x[:, 1:].mean(dim=1), x[:, -1]], dim=-1)
        h = self.head(pooled).view(b, 3, c.n_horizons)
        ret_norm, log_var, dir_logit = h[:, 0], h[:, 1], h[:, 2]
        log_var = LOG_VAR_LIMIT * torch.tanh(log_var / LOG_VAR_LIMIT)
        scale = self.return_scale
        return ModelOutput(
            ret=ret_norm * scale,
            dir_logit=dir_logit,
            uncertainty=torch.exp(0.5 * log_var) * scale,
            attn_entropy=attention_entropy(w),
            attention=w.mean(dim=1),
            ret_norm=ret_norm,
            log_var=log_var,
            cross_attention=cross_w,
        )

    def loss(
        self, out: ModelOutput, ret: torch.Tensor, direction: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Kendall-weighted heteroscedastic NLL (normalised returns) + direction BCE."""
        nll = gaussian_nll(out.ret_norm, out.log_var, ret / self.return_scale)
        bce = direction_loss(out.dir_logit, direction)
        return self.weighted_loss("nll", nll, bce, out.ret_norm, ret)
