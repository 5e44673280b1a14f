"""Continuous batching: concurrent requests share batched calls, each gets its own answer or
error, one symbol is never twice in a batch, and the numbers equal single calls."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from tradeformer.api.batcher import Batcher


def fake_predict(calls: list):
    def predict(kind: str, items: dict) -> pd.DataFrame:
        calls.append((kind, list(items)))
        time.sleep(0.02)  # long enough for other requests to queue up
        if "BAD" in items:
            raise ValueError("BAD has too few bars")
        values = [float(len(s)) if b is None else float(b["x"].sum()) for s, b in items.items()]
        return pd.DataFrame({"symbol": list(items), "value": values})

    return predict


def test_concurrent_requests_are_batched_and_answered_each():
    calls: list = []
    b = Batcher(fake_predict(calls), threading.Lock(), max_batch=8)
    syms = [f"S{i}" for i in range(24)]
    with ThreadPoolExecutor(24) as pool:
        rows = list(pool.map(lambda s: b.submit("store", s), syms))
    assert [r["symbol"] for r in rows] == syms
    assert all(r["value"] == len(s) for r, s in zip(rows, syms, strict=True))
    sizes = [len(c[1]) for c in calls]
    assert max(sizes) > 1 and max(sizes) <= 8 and sum(sizes) == 24


def test_a_failing_request_does_not_fail_its_batch_mates():
    calls: list = []
    b = Batcher(fake_predict(calls), threading.Lock(), max_batch=16)
    syms = ["A", "BAD", "C", "D"]

    def one(s):
        try:
            return b.submit("store", s)["value"]
        except ValueError as e:
            return str(e)

    with ThreadPoolExecutor(4) as pool:
        out = list(pool.map(one, syms))
    assert out == [1.0, "BAD has too few bars", 1.0, 1.0]


def test_same_symbol_with_different_bars_is_never_merged():
    calls: list = []
    b = Batcher(fake_predict(calls), threading.Lock(), max_batch=16)
    frames = [pd.DataFrame({"x": [float(i)]}) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        out = list(pool.map(lambda f: b.submit("bars", "AAPL", f)["value"], frames))
    assert out == [float(i) for i in range(6)]
    assert all(len(c[1]) == 1 for c in calls)
    with pytest.raises(ValueError):
        Batcher(fake_predict([]), threading.Lock(), max_batch=0)


def test_http_under_concurrency_equals_single_calls(served):
    """Real model: 12 concurrent GETs (batched) give the single-call numbers."""
    _, store, client = served
    from tradeformer.data import BarStore

    syms = BarStore(store).symbols()
    single = {s: client.get(f"/v1/predict/{s}").json() for s in syms}
    with ThreadPoolExecutor(12) as pool:
        many = list(pool.map(lambda s: client.get(f"/v1/predict/{s}").json(), syms * 4))
    for r in many:
        ref = single[r["symbol"]]
        assert r["action"] == ref["action"]
        for k in ("expected_return", "veto_prob", "tft_ret_10", "timeformer_std_3"):
            assert r[k] == pytest.approx(ref[k], rel=1e-5, abs=1e-8), k
    assert max(client.app.state.batcher.batches) > 1
