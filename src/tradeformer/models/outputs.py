"""What both deep models return, per sample and per horizon (3/5/10 bars)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ModelOutput:
    """Predictions in return units (not normalised) plus per-sample diagnostics.

    ret:          (B, H) point forecast of the forward return (TimeFormer: mean; TFT: P50)
    dir_logit:    (B, H) logit of P(return > 0)
    uncertainty:  (B, H) per-sample std of the return forecast (TimeFormer: predicted
                  sqrt(variance); TFT: (P90 - P10) / 2.563, the Gaussian-equivalent std)
    attn_entropy: (B,) mean entropy of the last attention layer's rows (nats)
    attention:    (B, T, T) last attention layer's weights, heads averaged
    quantiles:    (B, H, Q) TFT only
    var_weights:  (B, V) TFT only: variable selection weights averaged over time
    log_var / ret_norm / quantiles_norm: the normalised quantities the losses use
    """

    ret: torch.Tensor
    dir_logit: torch.Tensor
    uncertainty: torch.Tensor
    attn_entropy: torch.Tensor
    attention: torch.Tensor | None  # None: a member without attention
    ret_norm: torch.Tensor
    log_var: torch.Tensor | None = None
    quantiles: torch.Tensor | None = None
    quantiles_norm: torch.Tensor | None = None
    var_weights: torch.Tensor | None = None
    var_weights_t: torch.Tensor | None = None
    cross_attention: torch.Tensor | None = None

    @property
    def direction_prob(self) -> torch.Tensor:
        return torch.sigmoid(self.dir_logit)
