"""The deep ensemble members (TimeFormer-XL, TFT-XL, any registered network), layers, losses."""

from tradeformer.models.outputs import ModelOutput
from tradeformer.models.registry import (
    REGISTRY,
    build_model,
    count_parameters,
    model_spec,
    parameter_table,
    register,
)
from tradeformer.models.tft import TFTXL, TFTConfig
from tradeformer.models.timeformer import TimeFormerConfig, TimeFormerXL

__all__ = [
    "REGISTRY",
    "TFTXL",
    "ModelOutput",
    "TFTConfig",
    "TimeFormerConfig",
    "TimeFormerXL",
    "build_model",
    "count_parameters",
    "model_spec",
    "parameter_table",
    "register",
]
