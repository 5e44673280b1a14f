"""Continuous batching of concurrent single-symbol requests into one batched prediction.

A worker thread owns the predictor. Each request is queued with a future; whenever the worker
is free it takes everything queued (up to `max_batch`, one request per symbol and kind) and
runs one batched call, which costs far less per symbol than separate calls (the batch path is
vectorised over symbols). An idle server adds no wait: a lone request is a batch of one. If a
batched call fails, its requests are re-run one by one so that each gets its own answer or
error. Batched numbers equal single-call numbers up to float32 rounding (~1e-7 relative);
`max_batch=1` makes every request a call of its own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Job:
    kind: str  # "store" (symbol only) or "bars" (bars in the request)
    symbol: str
    bars: pd.DataFrame | None = None
    future: Future = field(default_factory=Future)


class Batcher:
    """Runs `predict(kind, {symbol: bars | None})` -> DataFrame (one row per symbol, column
    `symbol`) on batches of queued jobs, in one worker thread, under `lock`."""

    def __init__(
        self,
        predict: Callable[[str, dict[str, pd.DataFrame | None]], pd.DataFrame],
        lock: threading.Lock,
        max_batch: int = 32,
    ):
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.predict, self.lock, self.max_batch = predict, lock, max_batch
        self.queue: queue.Queue[Job] = queue.Queue()
        self.batches: list[int] = []  # sizes of the last batches run (for monitoring/tests)
        self._thread = threading.Thread(target=self._work, name="predict-batcher", daemon=True)
        self._thread.start()

    def submit(self, kind: str, symbol: str, bars: pd.DataFrame | None = None) -> dict:
        """Queue one request and wait for its row (as a dict); raises what predicting raised."""
        job = Job(kind, symbol, bars)
        self.queue.put(job)
        return job.future.result()

    def _work(self) -> None:
        held: list[Job] = []  # jobs deferred because their symbol was already in the batch
        while True:
            jobs = held or [self.queue.get()]
            held = []
            while len(jobs) < self.max_batch:
                try:
                    jobs.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            batch: list[Job] = []
            seen: set[tuple[str, str]] = set()
            for j in jobs:
                key = (j.kind, j.symbol)
                if key in seen or (batch and j.kind != batch[0].kind):
                    held.append(j)
                else:
                    seen.add(key)
                    batch.append(j)
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
