"""An exclusive advisory file lock between processes (POSIX `flock`): the processes that share
a cache or a study's database take turns through what only one of them may do at a time."""

from __future__ import annotations

import contextlib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per cache there
    fcntl = None


@contextlib.contextmanager
def exclusive_lock(path: str | Path):
    """Hold an exclusive lock on the file `path` (created if missing) for the block; waits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
