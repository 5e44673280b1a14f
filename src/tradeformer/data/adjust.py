"""Full price adjustment from `adj_close` (splits and dividends)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.errors import DataError


def adjust_ohlc(frame: pd.DataFrame, *, symbol: str = "") -> pd.DataFrame:
    """Scale open/high/low/close by adj_close/close; volume is left as traded.

    Returns a new frame without `adj_close`. Raises if the column is missing.
    """
    if "adj_close" not in frame.columns:
        raise DataError(f"{symbol}: cannot adjust: no adj_close column (use --no-adjust)")
    factor = frame["adj_close"].to_numpy(dtype="float64") / frame["close"].to_numpy(dtype="float64")
    if not np.isfinite(factor).all():
        raise DataError(f"{symbol}: adj_close/close is not finite on some rows")
    out = frame.drop(columns="adj_close").copy()
    for col in ("open", "high", "low", "close"):
        out[col] = out[col].to_numpy(dtype="float64") * factor
    return out
