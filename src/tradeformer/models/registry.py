"""Build either deep model by name and preset; count parameters."""

from __future__ import annotations

from torch import nn

from tradeformer.models.tft import TFTXL, TFTConfig
from tradeformer.models.timeformer import TimeFormerConfig, TimeFormerXL

MODEL_NAMES = ("timeformer", "tft")


def build_model(name: str, preset: str = "small", **overrides) -> nn.Module:
    """`build_model("timeformer", "spec")`, `build_model("tft", "small", embed_dim=0)`."""
    if name == "timeformer":
        return TimeFormerXL(TimeFormerConfig.preset(preset, **overrides))
    if name == "tft":
        names = overrides.pop("variable_names", None)
        return TFTXL(TFTConfig.preset(preset, **overrides), variable_names=names)
    raise ValueError(f"unknown model {name!r}; one of {MODEL_NAMES}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_table(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per top-level component."""
    return {
        name: sum(p.numel() for p in child.parameters() if p.requires_grad)
        for name, child in model.named_children()
    }
