"""Names of the 29 classical feature columns (the spec's order) and the warm-up length."""

from __future__ import annotations

FEATURE_VERSION = "1"  # bump when a formula changes: invalidates every cache

TECHNICAL_COLUMNS: tuple[str, ...] = (
    "rsi",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_position",
    "atr_normalized",
    "adx",
    "obv_trend",
    "vwap_distance",
    "ema_fast",
    "ema_slow",
    "volume_ratio",
)
SMC_COLUMNS: tuple[str, ...] = (
    "num_bullish_ob",
    "num_bearish_ob",
    "num_bullish_fvg",
    "num_bearish_fvg",
    "nearest_ob_distance",
    "nearest_fvg_distance",
    "liquidity_high_distance",
    "liquidity_low_distance",
    "bos_bullish",
    "bos_bearish",
    "choch_bullish",
    "choch_bearish",
)
MTF_TIMEFRAMES: tuple[str, ...] = ("1M", "1W", "1D", "4H", "1H")
MTF_COLUMNS: tuple[str, ...] = tuple(f"mtf_{tf}" for tf in MTF_TIMEFRAMES)

# the spec's context vector order: MTF (5) + SMC (12) + TA (12)
CLASSICAL_COLUMNS: tuple[str, ...] = MTF_COLUMNS + SMC_COLUMNS + TECHNICAL_COLUMNS

# bars after which every column is defined (MACD 12/26/9 needs 33, ADX(14) 27; the model
# lookback of 120 bars is the binding constraint and makes every zone/count window full)
WARMUP_BARS = 120
