"""Evaluation: metrics with block-bootstrap CIs, a vectorised backtest, baselines, ablations,
and the HTML report (expected vs measured)."""

from tradeformer.evaluation.backtest import BacktestResult, run_backtest
from tradeformer.evaluation.evaluate import evaluate_run

__all__ = ["BacktestResult", "evaluate_run", "run_backtest"]
