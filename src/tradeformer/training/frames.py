"""The per-row prediction tables a run writes: `test_predictions.parquet` and `oof.parquet`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.cross_section import date_codes
from tradeformer.dataset.universe import Universe
from tradeformer.training.columns import ENSEMBLE, prediction_column
from tradeformer.training.ensemble import ensemble_probability, ensemble_return, member_outputs

# (output key of `predict_models`, its column quantity) written per member and horizon
FRAME_OUTPUTS = (("ret", "ret"), ("dir_prob", "prob"), ("uncertainty", "std"))


def next_bar_returns(u: Universe) -> np.ndarray:
    """log(close[t+1] / close[t]) within each symbol (NaN at a symbol's last bar): what a
    position held from the close of t to the close of t+1 earns (evaluation only)."""
    close = u.ohlcv[:, 3]
    out = np.full(len(close), np.nan)
    out[:-1] = np.log(close[1:] / close[:-1])
    out[u.offsets[1:] - 1] = np.nan  # never across a symbol boundary
    return out


def _row_keys(u: Universe, rows: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "timestamp": pd.DatetimeIndex(u.timestamps[rows].astype("M8[ns]")),
        "symbol": np.asarray(u.symbols)[u.symbol_of[rows]],
    }


def build_test_frame(
    u: Universe, rows: np.ndarray, preds: dict, decisions: pd.DataFrame, cfg: ExperimentConfig
) -> pd.DataFrame:
    """One row per test bar: the decision (spec fields), every member's outputs at every
    horizon, the ensemble at every horizon, and the realised outcomes (for evaluation)."""
    cols: dict[str, np.ndarray] = dict(_row_keys(u, rows))
    cols.update({k: decisions[k].to_numpy() for k in decisions.columns})
    cols["close"] = u.ohlcv[rows, 3]
    codes = date_codes(u.timestamps[rows])
    for j, h in enumerate(u.horizons):
        for name, p in preds.items():
            for key, quantity in FRAME_OUTPUTS:
                cols[prediction_column(name, quantity, h)] = p[key][:, j]
        rets, probs = member_outputs(preds, "ret", j), member_outputs(preds, "dir_prob", j)
        cols[prediction_column(ENSEMBLE, "ret", h)] = ensemble_return(rets, cfg.ensemble, codes)
        cols[prediction_column(ENSEMBLE, "prob", h)] = ensemble_probability(probs, cfg.ensemble)
        cols[f"ret_{h}"] = u.ret[rows, j]
        cols[f"dir_{h}"] = u.direction[rows, j]
        if u.target_ret is not None:
            cols[f"target_{h}"] = u.target_ret[rows, j]
            cols[f"target_dir_{h}"] = u.target_dir[rows, j]
    cols["next_ret_1"] = next_bar_returns(u)[rows]
    return pd.DataFrame(cols)


def oof_frame(u: Universe, parts: list[tuple[int, np.ndarray, dict]]) -> pd.DataFrame:
    """Every fold's validation predictions (the veto's training rows) with their outcomes."""
    frames = []
    for k, rows, preds in parts:
        cols: dict[str, np.ndarray] = {"fold": np.full(len(rows), k), "row": rows}
        keys = _row_keys(u, rows)
        cols["symbol"], cols["timestamp"] = keys["symbol"], keys["timestamp"]
        for name, p in preds.items():
            for j, h in enumerate(u.horizons):
                cols[prediction_column(name, "ret", h)] = p["ret"][:, j]
                cols[prediction_column(name, "prob", h)] = p["dir_prob"][:, j]
        for j, h in enumerate(u.horizons):
            cols[f"ret_{h}"] = u.ret[rows, j]
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)
