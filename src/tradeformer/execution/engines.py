"""Engines that map a pure per-symbol function over items: a local process pool or Dask.

Every per-symbol stage hands its work to `Engine.map(fn, items)`: `fn` is a module-level
function of one item's inputs (paths and small arrays; it reads and writes files itself), so
where it runs cannot change what it returns. Results come back in the items' order.

- `ProcessEngine` (default, no extra dependency): `concurrent.futures.ProcessPoolExecutor`
  with `workers` processes; one worker (or one item) runs in this process.
- `DaskEngine`: a `dask.distributed` client on an existing scheduler (`address`, e.g.
  `tcp://host:8786`) or on a `LocalCluster` of `workers` single-threaded processes. Workers of
  a remote cluster must see the same paths (the store, the cache) as this process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol

from rich.progress import Progress

from tradeformer.config import ExecutionConfig
from tradeformer.errors import ConfigError, SourceError


class Engine(Protocol):
    name: str
    workers: int

    def map(
        self,
        fn: Callable,
        items: Sequence,
        *,
        label: str = "",
        progress: bool = False,
        shared: dict | None = None,
    ) -> list: ...

    def broadcast(self, value: Any) -> Any: ...

    def close(self) -> None: ...


def _bar(label: str, total: int, progress: bool) -> tuple[Progress, Any]:
    bar = Progress(disable=not progress or not label, transient=True)
    return bar, bar.add_task(label, total=max(total, 1))


class ProcessEngine:
    """A local process pool (`workers` processes; 1 runs in this process)."""

    name = "process"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(
        self,
        fn: Callable,
        items: Sequence,
        *,
        label: str = "",
        progress: bool = False,
        shared: dict | None = None,
    ) -> list:
        """`[fn(item, **shared) for item in items]`, over the pool."""
        fn = partial(fn, **shared) if shared else fn
        n = min(self.workers, len(items))
        where = f"{label} ({n} processes)" if n > 1 else label
        bar, task = _bar(where, len(items), progress)
        out = []
        with bar:
            if n <= 1:
                for item in items:
                    out.append(fn(item))
                    bar.advance(task)
                return out
            with ProcessPoolExecutor(max_workers=n) as pool:
                for r in pool.map(fn, items, chunksize=max(1, len(items) // (8 * n))):
                    out.append(r)
                    bar.advance(task)
        return out

    def broadcast(self, value: Any) -> Any:
        return value

    def close(self) -> None:
        pass


class DaskEngine:
    """A `dask.distributed` client: on the scheduler at `address`, or on a LocalCluster."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError(
                "execution.engine: dask needs dask.distributed: pip install 'tradeformer[dask]'"
            ) from None
        self.cluster = None
        try:
            if address:
                self.client = Client(address, timeout="20s")
            else:
                n = max(1, workers or os.cpu_count() or 1)
                self.cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                self.client = Client(self.cluster)
        except OSError as e:
            raise SourceError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        self.address = address or self.cluster.scheduler_address
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def map(
        self,
        fn: Callable,
        items: Sequence,
        *,
        label: str = "",
        progress: bool = False,
        shared: dict | None = None,
    ) -> list:
        """`[fn(item, **shared) for item in items]`, one task per item (`shared` values may be
        `broadcast` futures: each worker then holds one copy)."""
        from distributed import as_completed

        bar, task = _bar(f"{label} (dask, {self.workers} workers)", len(items), progress)
        # the items go to the workers as data (scattered), not inside the task graph
        futures = self.client.map(
            fn, self.client.scatter(list(items)), pure=False, **(shared or {})
        )
        with bar:
            for _ in as_completed(futures):
                bar.advance(task)
        return self.client.gather(futures)

    def broadcast(self, value: Any) -> Any:
        """`value` sent once to every worker (a future tasks take in place of the value)."""
        return self.client.scatter(value, broadcast=True)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_engine(config: ExecutionConfig | None = None) -> Engine:
    cfg = config or ExecutionConfig()
    if cfg.engine == "dask":
        return DaskEngine(cfg.address, cfg.workers)
    return ProcessEngine(cfg.workers)


@contextmanager
def engine_scope(config: ExecutionConfig | Engine | None = None):
    """An engine for a `with` block (closed after it), or the caller's own engine as is."""
    if config is not None and not isinstance(config, ExecutionConfig):
        yield config
        return
    engine = make_engine(config)
    try:
        yield engine
    finally:
        engine.close()
