"""A tiny real batch: 120-bar windows of AAPL with its 29 classical features and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tradeformer.features import CLASSICAL_COLUMNS, WARMUP_BARS, classical_features


def real_batch(bars: pd.DataFrame, n: int, lookback: int = 120, seed: int = 0) -> dict:
    """Windows ending at n random bars: prices relative to the last close, volume to its mean."""
    table, _ = classical_features(bars, timeframe="1D")
    feats = table[list(CLASSICAL_COLUMNS)].to_numpy(dtype="float32")
    mu, sd = np.nanmean(feats, axis=0), np.nanstd(feats, axis=0) + 1e-6
    feats = (feats - mu) / sd
    ohlcv = bars[["open", "high", "low", "close", "volume"]].to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    ends = rng.choice(np.arange(WARMUP_BARS + lookback, len(bars) - 10), size=n, replace=False)
    price, ctx = [], []
    for t in ends:
        w = ohlcv[t - lookback + 1 : t + 1].copy()
        w[:, :4] = w[:, :4] / w[-1, 3] - 1.0
        w[:, 4] = np.log1p(w[:, 4] / w[:, 4].mean())
        price.append(w)
        ctx.append(feats[t - lookback + 1 : t + 1])
    ret = table[["ret_3", "ret_5", "ret_10"]].to_numpy(dtype="float32")[ends]
    dirs = table[["dir_3", "dir_5", "dir_10"]].to_numpy(dtype="float32")[ends]
    return {
        "price": torch.tensor(np.array(price), dtype=torch.float32),
        "context": torch.tensor(np.array(ctx), dtype=torch.float32),
        "embedding": torch.randn(n, 512, generator=torch.Generator().manual_seed(seed)),
        "ret": torch.tensor(ret),
        "dir": torch.tensor(dirs),
    }


@pytest.fixture(scope="session")
def batch(aapl_daily) -> dict:
    return real_batch(aapl_daily, 32)
