"""Lookback windows gathered per batch from one contiguous per-symbol array (never all at once).

`gather(values, ends, lookback)` returns the `lookback` rows ending at each index in `ends`
(inclusive): the window of bar t holds bars t - lookback + 1 .. t, nothing after t.
"""

from __future__ import annotations

import numpy as np

OHLCV = ("open", "high", "low", "close", "volume")


def valid_ends(n_bars: int, lookback: int) -> np.ndarray:
    """Bar indices that have a full window behind them."""
    return np.arange(lookback - 1, n_bars)


def gather(values: np.ndarray, ends: np.ndarray, lookback: int) -> np.ndarray:
    """(len(ends), lookback, C) windows from a (N, C) array; raises if a window is incomplete."""
    ends = np.asarray(ends, dtype=np.int64)
    if ends.size and (ends.min() < lookback - 1 or ends.max() >= len(values)):
        raise IndexError(f"window ends must lie in [{lookback - 1}, {len(values) - 1}]")
    idx = ends[:, None] + np.arange(1 - lookback, 1)[None, :]
    return values[idx]


def relative_ohlcv(windows: np.ndarray) -> np.ndarray:
    """Per-window normalisation (RevIN-like, using only the window):
    OHLC -> log(price / last close); volume -> log1p(volume / window mean volume)."""
    w = np.asarray(windows, dtype=np.float64)
    out = np.empty(w.shape, dtype=np.float32)
    last_close = w[:, -1:, 3:4]
    out[..., :4] = np.log(w[..., :4] / last_close)
    mean_v = w[..., 4:5].mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_v = np.where(mean_v > 0, w[..., 4:5] / mean_v, 0.0)
    out[..., 4:5] = np.log1p(rel_v)
    return out
