"""The model registry: a member kind's name -> its config class (with its preset table) and
model class. The ensemble, the veto, the bundle and the reports iterate over the registered
members a config names; adding a network is a module, one `register(...)` line and a config
entry (`models: {mynet: {kind: mynet, preset: small}}`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from torch import nn

from tradeformer.models.base import ForecastModel, PresetConfig
from tradeformer.models.gbm import GBMConfig, GBMRanker
from tradeformer.models.seeds import SeedAverage
from tradeformer.models.tft import TFTXL, TFTConfig
from tradeformer.models.timeformer import TimeFormerConfig, TimeFormerXL


@dataclass(frozen=True)
class ModelSpec:
    """One registered member: `title` is its display name; presets live on `config_class`.
    A `tabular` member (the boosted ranker) is not a torch module: it fits and predicts
    whole rows itself and is saved as LightGBM text."""

    kind: str
    title: str
    config_class: type[PresetConfig]
    model_class: type

    @property
    def tabular(self) -> bool:
        return bool(getattr(self.model_class, "tabular", False))

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
register("gbm", "LightGBM ranker", GBMConfig, GBMRanker)


def is_tabular(model) -> bool:
    """A member that is not a torch module (fits and predicts whole rows itself)."""
    return bool(getattr(model, "tabular", False))


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


def model_from_manifest(
    kind: str, config: dict, init: dict | None = None, seeds: int = 1
) -> ForecastModel:
    """Rebuild a member from what `describe_model` wrote into a bundle's manifest (`seeds`
    > 1: a network trained with several seeds, averaged)."""
    spec = model_spec(kind)

    def one():
        return spec.model_class(spec.config_class.from_dict(config), **(init or {}))

    if seeds > 1 and not spec.tabular:
        return SeedAverage([one() for _ in range(seeds)])
    model = one()
    if spec.tabular:
        model.n_seeds = seeds
    return model


def describe_model(kind: str, model: ForecastModel) -> dict:
    """The manifest entry of a member: its kind, config, constructor arguments and seeds."""
    entry = {"kind": kind, "config": model.config.to_dict(), "init": model.init_arguments()}
    seeds = getattr(model, "seeds", None) or getattr(model, "n_seeds", 1)
    if seeds > 1:
        entry["seeds"] = int(seeds)
    if is_tabular(model):
        entry["n_horizons"] = len(model.by_seed[0]) if model.by_seed else 0
    return entry


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (a tabular member: the leaves of its trees)."""
    if is_tabular(model):
        return sum(b.num_trees() for b in getattr(model, "boosters", []))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_table(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per top-level component."""
    if is_tabular(model):
        return {}
    return {
        name: sum(p.numel() for p in child.parameters() if p.requires_grad)
        for name, child in model.named_children()
    }
