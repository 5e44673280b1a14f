"""Feature families: technical (12), smart money concepts (12), multi-timeframe (5)."""

from tradeformer.features.columns import (
    CLASSICAL_COLUMNS,
    MTF_COLUMNS,
    SMC_COLUMNS,
    TECHNICAL_COLUMNS,
    WARMUP_BARS,
)
from tradeformer.features.mtf import mtf_features
from tradeformer.features.pipeline import (
    FeatureConfig,
    build_features,
    classical_features,
    load_features,
)
from tradeformer.features.smc import smc_features
from tradeformer.features.technical import technical_features

__all__ = [
    "CLASSICAL_COLUMNS",
    "MTF_COLUMNS",
    "SMC_COLUMNS",
    "TECHNICAL_COLUMNS",
    "WARMUP_BARS",
    "FeatureConfig",
    "build_features",
    "classical_features",
    "load_features",
    "mtf_features",
    "smc_features",
    "technical_features",
]
