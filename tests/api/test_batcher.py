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


def _blocked(release: threading.Event):
    def predict(kind: str, items: dict) -> pd.DataFrame:
        release.wait(10)
        return pd.DataFrame({"symbol": list(items), "value": 1.0})

    return predict


def test_full_queue_is_refused_at_once_not_waited_on():
    from tradeformer.api.batcher import Busy

    release = threading.Event()
    b = Batcher(_blocked(release), threading.Lock(), max_batch=1, max_queue=2, timeout_s=10)

    def until(cond):
        deadline = time.monotonic() + 10
        while not cond():
            assert time.monotonic() < deadline
            time.sleep(0.005)

    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(b.submit, "store", "A")  # taken by the worker, blocked
        until(lambda: running.running() and b.queue.qsize() == 0 and b.batches == [])
        time.sleep(0.05)
        waiting = [pool.submit(b.submit, "store", s) for s in ("B", "C")]  # fill the queue
        until(lambda: b.queue.qsize() == 2)
        t0 = time.perf_counter()
        with pytest.raises(Busy, match="2 requests already waiting"):
            b.submit("store", "D")
        assert time.perf_counter() - t0 < 0.1
        release.set()
        assert [f.result()["symbol"] for f in (running, *waiting)] == ["A", "B", "C"]


def test_timed_out_request_gets_busy_and_its_job_is_never_run():
    from tradeformer.api.batcher import Busy

    release = threading.Event()
    calls: list = []

    def predict(kind, items):
        calls.append(list(items))
        return _blocked(release)(kind, items)

    b = Batcher(predict, threading.Lock(), max_batch=1, timeout_s=0.3)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(b.submit, "store", "A")
        time.sleep(0.1)
        with pytest.raises(Busy, match=r"no prediction within 0\.3 s"):
            b.submit("store", "B")  # queued behind A, times out there
        release.set()
        with pytest.raises(Busy):
            first.result()  # A timed out too, though it ran
    time.sleep(0.2)
    assert calls == [["A"]]  # B was dropped unrun
    assert b.submit("store", "C")["symbol"] == "C"  # the worker is still alive
