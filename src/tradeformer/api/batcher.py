"""Continuous batching of concurrent single-symbol requests into one batched prediction.

A worker thread owns the predictor. Each request is queued with a future; whenever the worker
is free it takes everything queued (up to `max_batch`, one request per symbol and kind) and
runs one batched call, which costs far less per symbol than separate calls (the batch path is
vectorised over symbols). An idle server adds no wait: a lone request is a batch of one. If a
batched call fails, its requests are re-run one by one so that each gets its own answer or
error. Batched numbers equal single-call numbers up to float32 rounding (~1e-7 relative);
`max_batch=1` makes every request a call of its own.

The queue is bounded (`max_queue`): a request that finds it full gets `Busy` at once (the API
answers 503 with Retry-After) instead of waiting without end, and a request whose answer takes
longer than `timeout_s` gets `Busy` too; a timed-out job still queued is dropped unrun.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Job:
    kind: str  # "store" (symbol only) or "bars" (bars in the request)
    symbol: str
    bars: pd.DataFrame | None = None
    future: Future = field(default_factory=Future)


class Busy(RuntimeError):
    """The batcher cannot take or finish a request now; retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Batcher:
    """Runs `predict(kind, {symbol: bars | None})` -> DataFrame (one row per symbol, column
    `symbol`) on batches of queued jobs, in one worker thread, under `lock`."""

    def __init__(
        self,
        predict: Callable[[str, dict[str, pd.DataFrame | None]], pd.DataFrame],
        lock: threading.Lock,
        max_batch: int = 32,
        max_queue: int = 256,
        timeout_s: float = 30.0,
    ):
        if max_batch < 1 or max_queue < 1 or timeout_s <= 0:
            raise ValueError("max_batch and max_queue must be >= 1, timeout_s > 0")
        self.predict, self.lock, self.max_batch = predict, lock, max_batch
        self.timeout_s = timeout_s
        self.queue: queue.Queue[Job] = queue.Queue(maxsize=max_queue)
        self.batches: list[int] = []  # sizes of the last batches run (for monitoring/tests)
        self._thread = threading.Thread(target=self._work, name="predict-batcher", daemon=True)
        self._thread.start()

    def submit(self, kind: str, symbol: str, bars: pd.DataFrame | None = None) -> dict:
        """Queue one request and wait for its row (as a dict); raises what predicting raised."""
        job = Job(kind, symbol, bars)
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise Busy(f"{self.queue.maxsize} requests already waiting; retry shortly") from None
        try:
            return job.future.result(timeout=self.timeout_s)
        except FutureTimeout:
            job.future.cancel()  # still queued: the worker skips it
            raise Busy(f"no prediction within {self.timeout_s:g} s; retry shortly") from None

    def _work(self) -> None:
        held: list[Job] = []  # jobs deferred because their symbol was already in the batch
        while True:
            fresh = [] if held else [self.queue.get()]
            while len(held) + len(fresh) < self.max_batch:
                try:
                    fresh.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            # timed-out jobs were cancelled by their request: drop them unrun
            jobs = held + [j for j in fresh if j.future.set_running_or_notify_cancel()]
            held = []
            batch: list[Job] = []
            seen: set[tuple[str, str]] = set()
            for j in jobs:
                key = (j.kind, j.symbol)
                if key in seen or (batch and j.kind != batch[0].kind):
                    held.append(j)
                else:
                    seen.add(key)
                    batch.append(j)
            if batch:
                self._run(batch)

    def _run(self, batch: list[Job]) -> None:
        try:
            rows = self._call(batch)
        except Exception as e:
            if len(batch) == 1:
                batch[0].future.set_exception(e)
                return
            for j in batch:  # one by one: each request its own answer or error
                try:
                    self._resolve(j, self._call([j]))
                except Exception as ej:
                    j.future.set_exception(ej)
            return
        for j in batch:
            self._resolve(j, rows)

    def _call(self, batch: list[Job]) -> dict[str, dict]:
        with self.lock:
            out = self.predict(batch[0].kind, {j.symbol: j.bars for j in batch})
        self.batches = [*self.batches[-99:], len(batch)]
        return {r["symbol"]: r for r in out.to_dict(orient="records")}

    @staticmethod
    def _resolve(job: Job, rows: dict[str, dict]) -> None:
        if job.symbol in rows:
            job.future.set_result(rows[job.symbol])
        else:
            job.future.set_exception(RuntimeError(f"no prediction for {job.symbol!r}"))
