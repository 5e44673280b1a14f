"""Memory-mapped arrays of a universe under the cache (the (N, 512) embedding and its
cross-sectional normalisation): written once per content key, then opened read-only, so no
stage holds them in RAM and the OS pages in only the rows a batch gathers."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap


@dataclass(frozen=True)
class ArrayStore:
    folder: Path

    def array(
        self, name: str, shape: tuple[int, ...], dtype, fill: Callable[[np.ndarray], None]
    ) -> np.ndarray:
        """The array `name`: opened if a previous run wrote it, else written by `fill(out)`
        into a temporary file that is renamed into place (a killed write leaves none)."""
        path = self.folder / f"{name}.npy"
        if path.exists():
            mm = np.load(path, mmap_mode="r")
            if mm.shape == tuple(shape) and mm.dtype == np.dtype(dtype):
                return mm
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{name}.{os.getpid()}.tmp.npy")
        out = open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(shape))
        fill(out)
        out.flush()
        del out
        os.replace(tmp, path)
        return np.load(path, mmap_mode="r")


def release(x: np.ndarray) -> None:
    """After a pass over a memory map: drop its pages from this process's resident set (they
    stay in the OS page cache and are read back on the next access). A no-op for arrays."""
    m = getattr(x, "_mmap", None)
    if m is None and isinstance(getattr(x, "base", None), np.memmap):
        m = getattr(x.base, "_mmap", None)
    if m is not None and hasattr(mmap, "MADV_DONTNEED"):
        m.madvise(mmap.MADV_DONTNEED)


class PageBound:
    """Keeps a memory map's resident pages bounded while batches gather scattered rows: the
    kernel maps up to 64 KiB of cached pages around every touched one (fault-around), so a
    few thousand random rows would otherwise make the whole file resident. `tick()` once per
    batch releases the pages every `every` batches (batches are copies: nothing breaks)."""

    def __init__(self, x: np.ndarray, every: int = 16):
        self.x, self.every, self.n = x, every, 0

    def tick(self) -> None:
        self.n += 1
        if self.n % self.every == 0:
            release(self.x)


def finite_rows(x: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """(N,) True where every value of the row is finite, `chunk` rows at a time (no (N, K)
    temporary: the embedding may be a memory map)."""
    out = np.empty(len(x), dtype=bool)
    for a in range(0, len(x), chunk):
        out[a : a + chunk] = np.isfinite(x[a : a + chunk]).all(axis=1)
    release(x)
    return out
