"""What both deep models share: the per-horizon return scale and the learned task weights."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import ClassVar

import torch
from torch import nn

from tradeformer.models.losses import MultiTaskLoss


def broadcast_context(context: torch.Tensor | None, batch: int, length: int, dim: int):
    """Per-bar context (B, L, C) as is; a per-sample vector (B, C) repeated over the window."""
    if context is None:
        raise ValueError("context is required (B, L, C) or (B, C)")
    if context.dim() == 2:
        context = context.unsqueeze(1).expand(batch, length, context.shape[-1])
    if context.shape != (batch, length, dim):
        raise ValueError(f"context shape {tuple(context.shape)} != ({batch}, {length}, {dim})")
    return context


class ForecastModel(nn.Module):
    """Base of TimeFormer-XL and TFT-XL: heads predict returns divided by `return_scale`."""

    # per-sample outputs (keys of `predict_models`) this network hands the veto besides its
    # return forecasts and uncertainty, e.g. TFT's quantile range
    veto_diagnostics: ClassVar[tuple[str, ...]] = ()

    def init_arguments(self) -> dict:
        """Constructor arguments besides the config (saved in the bundle's manifest)."""
        return {}

    def check_inputs(
        self, price: torch.Tensor, embedding: torch.Tensor | None, context: torch.Tensor | None
    ) -> tuple[int, int, torch.Tensor]:
        """(batch, window length, per-bar context) after checking shapes against the config."""
        b, length, _ = price.shape
        if embedding is not None and not self.config.embed_dim:
            raise ValueError("this model was configured without an embedding (embed_dim=0)")
        return b, length, broadcast_context(context, b, length, self.config.context_dim)

    def _init_forecast(self, n_horizons: int, n_tasks: int = 2) -> None:
        self.task_weights = MultiTaskLoss(n_tasks)
        self.register_buffer("return_scale", torch.ones(n_horizons))

    def weighted_loss(
        self, name: str, main: torch.Tensor, bce: torch.Tensor, ret_norm: torch.Tensor, ret
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Kendall-weighted total of the main loss and the direction BCE, and the logged parts:
        both losses, the MSE of the normalised forecast, and `fixed` = their unweighted sum (the
        early-stopping criterion: the Kendall weights move while training)."""
        mask = ~torch.isnan(ret)  # a masked mean (no boolean indexing: static shapes)
        err = torch.where(mask, torch.nan_to_num(ret_norm) - ret / self.return_scale, 0.0)
        mse = err.square().sum() / mask.sum().clamp_min(1)
        parts = {name: main.detach(), "bce": bce.detach(), "mse": mse.detach()}
        return self.task_weights([main, bce]), {**parts, "fixed": (main + bce).detach()}

    def set_return_scale(self, scale: float | list[float]) -> None:
        """Per-horizon size of the returns (training std): the heads predict ret / scale."""
        s = torch.as_tensor(scale, dtype=torch.float32)
        self.return_scale.copy_(s.expand_as(self.return_scale))


class PresetConfig:
    """Mixin for frozen config dataclasses with named presets (`PRESETS` set per class)."""

    PRESETS: ClassVar[dict[str, dict]] = {}

    @classmethod
    def preset(cls, name: str, **overrides):
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; one of {sorted(cls.PRESETS)}")
        return replace(cls(**cls.PRESETS[name]), **overrides)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """Inverse of `to_dict` after a JSON round trip (lists back to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
