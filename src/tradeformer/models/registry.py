"""The model registry: a member kind's name -> its config class (with its preset table) and
model class. The ensemble, the veto, the bundle and the reports iterate over the registered
members a config names; adding a network is a module, one `register(...)` line and a config
entry (`models: {mynet: {kind: mynet, preset: small}}`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from torch import nn

from tradeformer.models.base import ForecastModel, PresetConfig
from tradeformer.models.tft import TFTXL, TFTConfig
from tradeformer.models.timeformer import TimeFormerConfig, TimeFormerXL


@dataclass(frozen=True)
class ModelSpec:
    """One registered network: `title` is its display name; presets live on `config_class`."""

    kind: str
    title: str
    config_class: type[PresetConfig]
    model_class: type[ForecastModel]

    @property
    def presets(self) -> tuple[str, ...]:
        return tuple(sorted(self.config_class.PRESETS))


REGISTRY: dict[str, ModelSpec] = {}


def register(kind: str, title: str, config_class: type, model_class: type) -> ModelSpec:
    """Make a network buildable by name (from a config and from a bundle's manifest)."""
    spec = REGISTRY[kind] = ModelSpec(kind, title, config_class, model_class)
    return spec


register("timeformer", "TimeFormer-XL", TimeFormerConfig, TimeFormerXL)
register("tft", "TFT-XL", TFTConfig, TFTXL)


def model_spec(kind: str) -> ModelSpec:
    if kind not in REGISTRY:
        raise ValueError(f"unknown model kind {kind!r}; registered: {', '.join(REGISTRY)}")
    return REGISTRY[kind]


def model_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def build_model(kind: str, preset: str = "small", **overrides) -> ForecastModel:
    """`build_model("timeformer", "spec")`, `build_model("tft", "small", embed_dim=0)`.
    Keyword arguments that are not config fields go to the model's constructor."""
    spec = model_spec(kind)
    names = {f.name for f in fields(spec.config_class)}
    init = {k: overrides.pop(k) for k in list(overrides) if k not in names}
    return spec.model_class(spec.config_class.preset(preset, **overrides), **init)


def model_from_manifest(kind: str, config: dict, init: dict | None = None) -> ForecastModel:
    """Rebuild a member from what `describe_model` wrote into a bundle's manifest."""
    spec = model_spec(kind)
    return spec.model_class(spec.config_class.from_dict(config), **(init or {}))


def describe_model(kind: str, model: ForecastModel) -> dict:
    """The manifest entry of a member: its kind, config and constructor arguments."""
    return {"kind": kind, "config": model.config.to_dict(), "init": model.init_arguments()}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_table(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per top-level component."""
    return {
        name: sum(p.numel() for p in child.parameters() if p.requires_grad)
        for name, child in model.named_children()
    }
