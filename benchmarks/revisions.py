"""The package's source as it was at a git revision, for benchmarks that run today's code next
to an earlier one in the same run (`models.py`, `training_loop.py`)."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_at(rev: str) -> Path:
    """`src/` of revision `rev`, extracted into a temporary folder (put it on sys.path or
    PYTHONPATH to import that `tradeformer`)."""
    blob = subprocess.run(
        ["git", "archive", rev, "src/tradeformer"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    tmp = Path(tempfile.mkdtemp(prefix="tradeformer_before_"))
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "src"
