"""The two deep models (TimeFormer-XL, TFT-XL), their layers and losses."""

from tradeformer.models.outputs import ModelOutput
from tradeformer.models.registry import (
    MODEL_NAMES,
    build_model,
    count_parameters,
    parameter_table,
)
from tradeformer.models.tft import TFTXL, TFTConfig
from tradeformer.models.timeformer import TimeFormerConfig, TimeFormerXL

__all__ = [
    "MODEL_NAMES",
    "TFTXL",
    "ModelOutput",
    "TFTConfig",
    "TimeFormerConfig",
    "TimeFormerXL",
    "build_model",
    "count_parameters",
    "parameter_table",
]
