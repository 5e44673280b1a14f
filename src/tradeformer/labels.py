"""Labels: forward returns over h bars and their direction; the last h bars stay unlabeled."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

ReturnKind = Literal["log", "simple"]
DEFAULT_HORIZONS: tuple[int, ...] = (3, 5, 10)


def label_columns(horizons: tuple[int, ...] = DEFAULT_HORIZONS) -> list[str]:
    return [f"ret_{h}" for h in horizons] + [f"dir_{h}" for h in horizons]


def forward_returns(
    close: pd.Series | np.ndarray,
    horizons: tuple[int, ...] = DEFAULT_HORIZONS,
    kind: ReturnKind = "log",
) -> pd.DataFrame:
    """ret_h[t] = log(close[t+h] / close[t]) (or simple); dir_h = 1.0 if ret_h > 0 else 0.0.

    Both are NaN for the last h bars of the series (no future to label them with): never filled.
    A return of exactly 0 counts as "not up" (0.0).
    """
    if kind not in ("log", "simple"):
        raise ValueError(f"kind must be 'log' or 'simple', not {kind!r}")
    index = close.index if isinstance(close, pd.Series) else None
    c = np.asarray(close, dtype="float64")
    cols: dict[str, np.ndarray] = {}
    for h in horizons:
        if h <= 0:
            raise ValueError(f"horizons must be positive, got {h}")
        ret = np.full(len(c), np.nan)
        if h < len(c):
            ratio = c[h:] / c[:-h]
            ret[:-h] = np.log(ratio) if kind == "log" else ratio - 1.0
        cols[f"ret_{h}"] = ret
    for h in horizons:
        ret = cols[f"ret_{h}"]
        cols[f"dir_{h}"] = np.where(np.isnan(ret), np.nan, (ret > 0).astype("float64"))
    return pd.DataFrame(cols, index=index)
