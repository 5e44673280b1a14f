"""A fit's batches as tensors on its device, from one of two sources:

- `HostInputs` (the CPU default): numpy gathers each batch's windows from the (memory-mapped)
  universe in a worker thread, one batch ahead, and copies them to the device;
- `DeviceInputs` (the GPU default): the universe's arrays go to the device once (context and
  embedding already scaled) and each batch's windows are gathered there from an index
  tensor: no per-batch host work and no host-device copy of windows. An epoch's rows and
  date groups travel to the device in one copy.

Both give the same tensors (tests/training/test_inputs.py)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

from tradeformer.dataset.arrays import PageBound, release
from tradeformer.dataset.universe import Scaler, Universe, make_batch
from tradeformer.training.batching import group_ids


@dataclass
class Batch:
    """Model inputs and targets (price, embedding, context, ret, dir), each row's date
    within the batch (0..n_groups-1), and the number of rows."""

    tensors: dict[str, torch.Tensor | None]
    groups: torch.Tensor
    n_groups: int
    n: int


def to_tensors(batch: dict, device: str) -> dict:
    return {
        k: (torch.as_tensor(v, device=device) if v is not None else None) for k, v in batch.items()
    }


class HostInputs:
    """Batches gathered by numpy on the host (`make_batch`), prefetched one thread ahead."""

    def __init__(self, u: Universe, lookback: int, scaler: Scaler, codes: np.ndarray, device: str):
        self.u, self.lookback, self.scaler, self.codes, self.device = (
            u,
            lookback,
            scaler,
            codes,
            device,
        )
        # bounds the resident pages of the memory-mapped inputs while batches gather
        # scattered rows (`dataset/arrays.py`); the labels are copy-on-write and stay
        self.pages = PageBound(u.embedding, u.context, u.ohlcv)
        self.waited = 0.0

    def batch(self, rows: np.ndarray) -> Batch:
        b = to_tensors(make_batch(self.u, rows, self.lookback, self.scaler), self.device)
        self.pages.tick()
        ids, g = group_ids(self.codes[rows])
        return Batch(b, torch.as_tensor(ids, device=self.device), g, len(rows))

    def batches(self, row_batches: list[np.ndarray]) -> Iterator[Batch]:
        fetch = Prefetcher(self.batch, [r for r in row_batches if len(r)])
        yield from fetch
        self.waited += fetch.waited

    def done(self) -> None:
        release(self.u.embedding)


class DeviceInputs:
    """The universe on the device; windows gathered there (`gather`)."""

    def __init__(
        self,
        u: Universe,
        lookback: int,
        scaler: Scaler,
        codes: np.ndarray,
        device: str,
        chunk: int = 1 << 16,
    ):
        self.codes, self.device, self.lookback = codes, device, lookback
        self.waited = 0.0
        dev = torch.device(device)
        self.ohlcv = torch.as_tensor(np.ascontiguousarray(u.ohlcv, dtype=np.float64), device=dev)
        self.context = _scaled(u.context, scaler.context, chunk, dev)
        self.embedding = (
            _scaled(u.embedding, scaler.embedding, chunk, dev) if u.embedding.shape[1] else None
        )
        self.ret = torch.as_tensor(np.asarray(u.y_ret, dtype=np.float32), device=dev)
        self.dir = torch.as_tensor(np.asarray(u.y_dir, dtype=np.float32), device=dev)
        self.steps = torch.arange(1 - lookback, 1, device=dev)

    @staticmethod
    def nbytes(u: Universe) -> int:
        """Device memory the arrays take (float64 prices, float32 for the rest)."""
        per_row = 5 * 8 + 4 * (u.context.shape[1] + u.embedding.shape[1] + 2 * u.ret.shape[1])
        return len(u.timestamps) * per_row

    def gather(self, rows: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """`make_batch` on the device: (B, lookback, .) windows ending at `rows`."""
        idx = rows[:, None] + self.steps
        return {
            "price": relative_ohlcv(self.ohlcv[idx]),
            "context": self.context[idx],
            "embedding": self.embedding[rows] if self.embedding is not None else None,
            "ret": self.ret[rows],
            "dir": self.dir[rows],
        }

    def batches(self, row_batches: list[np.ndarray]) -> Iterator[Batch]:
        """The batches of `row_batches`: their rows and date ids go to the device in one copy,
        then each batch is a slice of them."""
        row_batches = [r for r in row_batches if len(r)]
        if not row_batches:
            return
        flat = np.concatenate(row_batches).astype(np.int64)
        if flat.min() < self.lookback - 1 or flat.max() >= len(self.ohlcv):
            raise IndexError(
                f"window ends must lie in [{self.lookback - 1}, {len(self.ohlcv) - 1}]"
            )
        ids = [group_ids(self.codes[r]) for r in row_batches]
        rows_d = torch.as_tensor(flat, device=self.device)
        ids_d = torch.as_tensor(np.concatenate([i for i, _ in ids]), device=self.device)
        bounds = np.concatenate([[0], np.cumsum([len(r) for r in row_batches])])
        for k, (a, b) in enumerate(pairwise(bounds)):
            yield Batch(self.gather(rows_d[a:b]), ids_d[a:b], ids[k][1], int(b - a))

    def done(self) -> None:
        pass


def relative_ohlcv(w: torch.Tensor) -> torch.Tensor:
    """`features.windows.relative_ohlcv` in torch (float64 in, float32 out): OHLC as
    log(price / the window's last close), volume as log1p(volume / the window's mean)."""
    last_close = w[:, -1:, 3:4]
    vol = w[..., 4:5]
    mean_v = vol.mean(dim=1, keepdim=True)
    rel_v = torch.where(mean_v > 0, vol / mean_v, torch.zeros_like(vol))
    return torch.cat([torch.log(w[..., :4] / last_close), torch.log1p(rel_v)], dim=-1).float()


def _scaled(x: np.ndarray, scale, chunk: int, device: torch.device) -> torch.Tensor:
    """`scale(x)` as float32 on the device, `chunk` rows at a time (no host copy of the whole
    array; a memory map's pages are released after each chunk)."""
    out = torch.empty((len(x), x.shape[1]), dtype=torch.float32, device=device)
    for a in range(0, len(x), chunk):
        out[a : a + chunk] = torch.as_tensor(scale(x[a : a + chunk]).astype(np.float32))
        release(x)
    return out


def choose_inputs(
    u: Universe, lookback: int, scaler: Scaler, codes: np.ndarray, device: str, kind: str
) -> HostInputs | DeviceInputs:
    """`host`, `device`, or `auto`: on the device when it is a GPU with room for the arrays
    (at most half its free memory), else on the host."""
    if kind == "auto":
        fits = (
            device.startswith("cuda")
            and DeviceInputs.nbytes(u) < torch.cuda.mem_get_info(device)[0] / 2
        )
        kind = "device" if fits else "host"
    cls = DeviceInputs if kind == "device" else HostInputs
    return cls(u, lookback, scaler, codes, device)


class Prefetcher:
    """`fn(item)` for each item, computed `depth` items ahead in one worker thread (numpy
    window gathering releases the GIL), with the time the consumer spent waiting."""

    def __init__(self, fn, items: Iterable, depth: int = 2):
        self.fn, self.items, self.depth = fn, list(items), depth
        self.waited = 0.0

    def __iter__(self):
        with ThreadPoolExecutor(1, thread_name_prefix="batches") as pool:
            pending = deque(pool.submit(self.fn, it) for it in self.items[: self.depth])
            for nxt in self.items[self.depth :] + [None] * self.depth:
                if not pending:
                    break
                t0 = time.perf_counter()
                out = pending.popleft().result()
                self.waited += time.perf_counter() - t0
                if nxt is not None:
                    pending.append(pool.submit(self.fn, nxt))
                yield out
