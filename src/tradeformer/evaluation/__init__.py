"""Evaluation: metrics with block-bootstrap CIs, a vectorised backtest, baselines, ablations,
and the HTML report (expected vs measured).

`evaluate_run` is imported lazily: the metrics are a leaf the training loop uses too, and
importing them must not import the evaluation driver (which imports training).
"""

from tradeformer.evaluation.backtest import BacktestResult, run_backtest

__all__ = ["BacktestResult", "evaluate_run", "run_backtest"]


def __getattr__(name: str):
    if name == "evaluate_run":
        from tradeformer.evaluation.evaluate import evaluate_run

        return evaluate_run
    raise AttributeError(name)
