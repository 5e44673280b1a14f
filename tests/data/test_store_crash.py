"""A store written by a process killed at any moment (SIGKILL) is the old store or the new
one, never a mix: every manifest entry matches its file, and the set of entries is one of the
two."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tradeformer.data.store import COMMIT, BarStore, frame_fingerprint


def _state(root: Path) -> dict | None:
    """(timeframe, symbol) -> content hash, after checking every file against its entry."""
    store = BarStore(root)
    if not store.exists():
        return None
    out = {}
    for tf, entries in store.manifest["entries"].items():
        for sym, e in entries.items():
            assert frame_fingerprint(pd.read_parquet(root / e["file"])) == e["sha256"], (tf, sym)
            out[(tf, sym)] = e["sha256"]
    return out


def _import(src: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tradeformer.cli", "data", "import", str(src), "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sources(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    old, new = root / "old", root / "new"
    old.mkdir()
    new.mkdir()
    for path in sorted((shared_data / "daily").glob("*.parquet"))[:16]:
        bars = pd.read_parquet(path)
        bars.iloc[:-250].to_parquet(old / path.name, index=False)
        bars.to_parquet(new / path.name, index=False)  # every symbol 250 bars longer
    return old, new


def _reference(src: Path, out: Path) -> dict:
    proc = _import(src, out)
    assert proc.wait(timeout=300) == 0
    return _state(out)


def test_killed_import_leaves_the_old_store_or_the_new_one(sources, tmp_path):
    old_src, new_src = sources
    old_state = _reference(old_src, tmp_path / "old_ref")
    new_state = _reference(new_src, tmp_path / "new_ref")
    assert old_state.keys() == new_state.keys() and old_state != new_state
    outcomes = []
    for k, delay in enumerate((0.0, 0.02, 0.05, 0.1, 0.2, 0.4)):
        store = tmp_path / f"store{k}"
        assert _reference(old_src, store) == old_state
        proc = _import(new_src, store)
        deadline = time.monotonic() + 120
        while not any(store.glob(".staging-*/*/*.parquet")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        killed = proc.wait() == -signal.SIGKILL
        state = _state(store)  # a commit record left behind is rolled forward here
        assert state in (old_state, new_state), f"mixed store after a kill at +{delay} s"
        assert not (store / COMMIT).exists()
        outcomes.append((killed, state == new_state))
    assert any(killed and not new for killed, new in outcomes)  # killed mid-write: old store
    again = _import(new_src, tmp_path / "store0")  # a later write cleans up and succeeds
    assert again.wait(timeout=300) == 0
    assert _state(tmp_path / "store0") == new_state
    assert not list((tmp_path / "store0").glob(".staging-*"))


def test_a_writer_dead_after_its_commit_point_is_rolled_forward(sources, tmp_path, monkeypatch):
    old_src, new_src = sources
    store = tmp_path / "s"
    old_state = _reference(old_src, store)
    new_state = _reference(new_src, tmp_path / "ref")
    ref = BarStore(tmp_path / "ref")
    by_tf = {tf: {s: ref.read(s, tf) for s in ref.symbols(tf)} for tf in ("1D", "1W")}

    def die(self, commit):  # the process stops right after the commit record is in place
        raise SystemExit("killed")

    monkeypatch.setattr(BarStore, "_apply", die)
    with pytest.raises(SystemExit):
        BarStore(store).write_many(by_tf, base_timeframe="1D")
    monkeypatch.undo()
    assert (store / COMMIT).exists()
    state = _state(store)  # reading it finishes the write
    assert not (store / COMMIT).exists()
    for key, sha in state.items():
        assert sha == (new_state if key[0] in by_tf else old_state)[key], key
