"""A third ensemble member for the registry tests: a linear model of the last bar's inputs.
It is the whole recipe: this module, one `register(...)` call, one config entry."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tradeformer.models.base import ForecastModel, PresetConfig
from tradeformer.models.losses import direction_loss
from tradeformer.models.outputs import ModelOutput


@dataclass(frozen=True)
class LastBarConfig(PresetConfig):
    lookback: int = 120
    price_dim: int = 5
    context_dim: int = 29
    embed_dim: int = 512
    n_horizons: int = 3


LastBarConfig.PRESETS = {"small": {}}


class LastBarLinear(ForecastModel):
    """Normalised return and direction logit as linear functions of the last bar."""

    def __init__(self, config: LastBarConfig | None = None):
        super().__init__()
        c = self.config = config or LastBarConfig()
        self.head = nn.Linear(c.price_dim + c.context_dim + c.embed_dim, 2 * c.n_horizons)
        self._init_forecast(c.n_horizons)

    def forward(self, price, embedding, context, outputs_only: bool = False) -> ModelOutput:
        b, _, ctx = self.check_inputs(price, embedding, context)
        parts = [price[:, -1], ctx[:, -1]] + ([embedding] if self.config.embed_dim else [])
        ret_norm, dir_logit = self.head(torch.cat(parts, dim=-1)).chunk(2, dim=-1)
        return ModelOutput(
            ret=ret_norm * self.return_scale,
            dir_logit=dir_logit,
            uncertainty=self.return_scale.expand_as(ret_norm),
            attn_entropy=torch.zeros(b),
            attention=None,
            ret_norm=ret_norm,
        )

    def loss(self, out: ModelOutput, ret: torch.Tensor, direction: torch.Tensor):
        mask = ~torch.isnan(ret)
        mse = F.mse_loss(out.ret_norm[mask], (ret / self.return_scale)[mask])
        bce = direction_loss(out.dir_logit, direction)
        return self.weighted_loss("mse_main", mse, bce, out.ret_norm, ret)
