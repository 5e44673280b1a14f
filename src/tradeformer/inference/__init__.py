"""Inference: a loaded bundle predicting the next trade from bars (one symbol or many)."""

from tradeformer.inference.predictor import Predictor, predict_next_trade

__all__ = ["Predictor", "predict_next_trade"]
