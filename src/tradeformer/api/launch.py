"""Start `tradeformer serve` as a separate process on a free loopback port (tests, benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(
    bundle: str | Path,
    store: str | Path,
    startup_s: float = 60.0,
    max_batch: int = 32,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Iterator[str]:
    """Yield the base URL of a live server process (`extra`: more `serve` options; `cwd`: where
    it runs, e.g. for its cache); terminate it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "tradeformer.cli", "serve", "--bundle", str(bundle)]
    cmd += ["--data", str(store), "--port", str(port), "--max-batch", str(max_batch), *extra]
    url = f"http://127.0.0.1:{port}"
    # the server's log goes to a file: a pipe nobody reads fills up (64 KB of access lines)
    # and then blocks the server
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            deadline = time.monotonic() + startup_s
            while True:
                try:
                    if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    out = log.read().decode(errors="replace")
                    raise RuntimeError(f"server did not start on {url}:\n{out[-2000:]}")
                time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
