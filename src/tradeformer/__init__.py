"""tradeformer: OHLCV bars -> features -> three-model ensemble -> honest trade signals."""

__version__ = "0.1.0"
