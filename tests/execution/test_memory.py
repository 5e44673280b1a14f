"""trim_heap hands freed heap pages back to the OS (glibc); a no-op elsewhere."""

from __future__ import annotations

import ctypes
import platform

import pytest

from tradeformer.execution.memory import _glibc, trim_heap

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or _glibc() is None, reason="malloc_trim is glibc's"
)


def _anon_kib() -> int:
    """This process's anonymous resident memory (KiB), from /proc."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))


@glibc_only
def test_trim_returns_freed_heap_blocks():
    libc = _glibc()
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    # 200 MB of 4 KiB blocks (below the mmap threshold: they live on the heap), touched
    blocks = [libc.malloc(4096) for _ in range(50_000)]
    for b in blocks:
        libc.memset(b, 1, 4096)
    keep = blocks[-1]  # a live block at the top: the heap cannot simply shrink from the end
    for b in blocks[:-1]:
        libc.free(b)
    before = _anon_kib()
    assert trim_heap(collect=True)
    after = _anon_kib()
    libc.free(keep)
    assert before - after > 100_000, (before, after)  # > 100 MB of the ~200 MB came back


def test_trim_is_safe_to_call_anywhere():
    for _ in range(3):
        assert trim_heap() in (True, False)
