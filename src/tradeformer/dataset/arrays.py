"""Memory-mapped arrays of a universe under the cache (timestamps, prices, the 29 columns,
labels, the (N, 512) embedding and its cross-sectional normalisation): written once per
content key, then opened read-only (or copy-on-write), so no stage holds them in RAM and the
OS pages in only the rows a batch gathers."""

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
        return self.group({name: (shape, dtype)}, lambda out: fill(out[name]))[name]

    def group(
        self,
        specs: dict[str, tuple[tuple[int, ...], str]],
        fill: Callable[[dict[str, np.ndarray]], None],
        modes: dict[str, str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Several arrays filled in one pass (`specs`: name -> (shape, dtype)), each opened
        with its `modes` entry: `r` read-only (the default), or `c` copy-on-write (in-place
        edits stay private to this process and never reach the file; never `release` those:
        it would drop the edits)."""
        paths = {n: self.folder / f"{n}.npy" for n in specs}
        mode = {n: (modes or {}).get(n, "r") for n in specs}
        found = {n: np.load(p, mmap_mode=mode[n]) for n, p in paths.items() if p.exists()}
        if all(
            n in found and found[n].shape == tuple(sh) and found[n].dtype == np.dtype(dt)
            for n, (sh, dt) in specs.items()
        ):
            return found
        self.folder.mkdir(parents=True, exist_ok=True)
        tmps = {n: p.with_name(f"{n}.{os.getpid()}.tmp.npy") for n, p in paths.items()}
        outs = {
            n: open_memmap(tmps[n], mode="w+", dtype=dt, shape=tuple(sh))
            for n, (sh, dt) in specs.items()
        }
        fill(outs)
        for n in specs:
            outs[n].flush()
        del outs
        for n, p in paths.items():
            os.replace(tmps[n], p)
        return {n: np.load(p, mmap_mode=mode[n]) for n, p in paths.items()}


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
    batch releases the pages every `every` batches (batches are copies: nothing breaks).
    Only for read-only maps (a copy-on-write map's edited pages would be dropped)."""

    def __init__(self, *arrays: np.ndarray, every: int = 4):
        self.arrays, self.every, self.n = arrays, every, 0

    def tick(self) -> None:
        self.n += 1
        if self.n % self.every == 0:
            for x in self.arrays:
                release(x)


def finite_rows(x: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """(N,) True where every value of the row is finite, `chunk` rows at a time (no (N, K)
    temporary: the embedding may be a memory map)."""
    out = np.empty(len(x), dtype=bool)
    for a in range(0, len(x), chunk):
        out[a : a + chunk] = np.isfinite(x[a : a + chunk]).all(axis=1)
        release(x)  # resident: one chunk's pages at a time, not the whole file
    return out


def gather_columns(x: np.ndarray, rows: np.ndarray, a: int, b: int, chunk: int = 1 << 16):
    """`x[rows, a:b]`, gathered `chunk` rows at a time with a memory map's pages released
    after each chunk (the same values; only what stays resident differs)."""
    out = np.empty((len(rows), b - a), dtype=x.dtype)
    for i in range(0, len(rows), chunk):
        out[i : i + chunk] = x[rows[i : i + chunk], a:b]
        release(x)
    return out
