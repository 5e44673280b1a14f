"""Seed averaging: a member trained with k seeds is one module whose forecast is the mean of
its k networks' outputs. In the cross-sectional mode each network forecasts the per-date rank
of the forward return, so the mean is an average of per-date rank forecasts on one scale."""

from __future__ import annotations

import torch
from torch import nn

from tradeformer.models.outputs import ModelOutput

_AVERAGED = (
    "ret",
    "dir_logit",
    "uncertainty",
    "attn_entropy",
    "ret_norm",
    "quantiles",
    "var_weights",
)


class SeedAverage(nn.Module):
    """k trained copies of one network (same config, different seeds), averaged."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("SeedAverage needs at least one network")
        self.members = nn.ModuleList(members)
        self.config = members[0].config
        self.veto_diagnostics = type(members[0]).veto_diagnostics
        self.variable_names = getattr(members[0], "variable_names", None)

    @property
    def seeds(self) -> int:
        return len(self.members)

    def init_arguments(self) -> dict:
        return self.members[0].init_arguments()

    def forward(self, price, embedding=None, context=None, outputs_only: bool = False):
        outs = [m(price, embedding, context, outputs_only=True) for m in self.members]
        first = outs[0]
        avg = {}
        for key in _AVERAGED:
            values = [getattr(o, key) for o in outs]
            avg[key] = None if values[0] is None else torch.stack(values).mean(0)
        return ModelOutput(attention=first.attention, **avg)
