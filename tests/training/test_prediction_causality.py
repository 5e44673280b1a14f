"""Both networks as the trainer and the predictor call them: a forecast from bar t does not
move when every input after t (prices, the 29 columns, the embedding) is replaced."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tradeformer.dataset.universe import Scaler, assemble_universe
from tradeformer.features import WARMUP_BARS
from tradeformer.models import build_model
from tradeformer.training.prediction import predict

LOOKBACK, N = 120, 700


def _universe(ohlcv, context, embedding):
    return assemble_universe(
        ["A"],
        np.array([N]),
        np.arange(N, dtype=np.int64) * 86_400 * 10**9,
        ohlcv,
        context,
        embedding,
        np.full((N, 3), np.nan, dtype="float32"),
        np.full((N, 3), np.nan, dtype="float32"),
        horizons=(3, 5, 10),
        lookback=LOOKBACK,
    )


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("timeformer", {}),
        ("tft", {"variable_encoder": "linear"}),
        ("tft", {"variable_encoder": "grn"}),
    ],
)
def test_forecast_ignores_every_bar_after_its_own(name, kw):
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    ohlcv = np.column_stack([close, close * 1.01, close * 0.99, close, rng.uniform(1e5, 2e5, N)])
    context = rng.normal(size=(N, 29)).astype("float32")
    emb = rng.normal(size=(N, 512)).astype("float32")
    u = _universe(ohlcv, context, emb)
    t = WARMUP_BARS + LOOKBACK + 200  # the last bar whose forecast is checked
    rows = np.flatnonzero(u.eligible[: t + 1])
    scaler = Scaler.fit(u, rows)
    torch.manual_seed(0)
    model = build_model(name, "small", **kw).eval()
    before = predict(model, u, rows, LOOKBACK, scaler)

    future = slice(t + 1, N)  # every input after t replaced
    ohlcv2, context2, emb2 = ohlcv.copy(), context.copy(), emb.copy()
    ohlcv2[future] *= rng.uniform(0.5, 2.0, size=(N - t - 1, 1))
    context2[future] = rng.normal(size=context2[future].shape) * 5
    emb2[future] = rng.normal(size=emb2[future].shape) * 5
    after = predict(model, _universe(ohlcv2, context2, emb2), rows, LOOKBACK, scaler)
    for k in ("ret", "dir_prob", "uncertainty"):
        np.testing.assert_array_equal(after[k], before[k])
    # and the check can fail: a change at t itself moves the forecast at t
    ohlcv3 = ohlcv.copy()
    ohlcv3[t, 3] *= 1.05
    moved = predict(model, _universe(ohlcv3, context, emb), rows, LOOKBACK, scaler)
    assert np.abs(moved["ret"][-1] - before["ret"][-1]).max() > 0
