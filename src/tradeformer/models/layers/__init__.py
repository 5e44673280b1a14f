"""Shared building blocks of the two deep models."""

from tradeformer.models.layers.attention import (
    CrossAttention,
    InterpretableMultiHeadAttention,
    RopeSelfAttention,
    attention_entropy,
)
from tradeformer.models.layers.grn import GatedLinearUnit, GatedResidualNetwork
from tradeformer.models.layers.patching import PatchEmbedding
from tradeformer.models.layers.rope import RotaryEmbedding
from tradeformer.models.layers.tcn import TCN, TemporalConvBlock
from tradeformer.models.layers.vsn import MultiGRN, VariableEmbedding, VariableSelectionNetwork

__all__ = [
    "TCN",
    "CrossAttention",
    "GatedLinearUnit",
    "GatedResidualNetwork",
    "InterpretableMultiHeadAttention",
    "MultiGRN",
    "PatchEmbedding",
    "RopeSelfAttention",
    "RotaryEmbedding",
    "TemporalConvBlock",
    "VariableEmbedding",
    "VariableSelectionNetwork",
    "attention_entropy",
]
