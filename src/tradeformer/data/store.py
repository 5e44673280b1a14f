"""Parquet bar store: one file per symbol per timeframe, plus `manifest.json`.

Layout: `<root>/<timeframe>/<SYMBOL>.parquet` and `<root>/manifest.json`. Writes are staged in a
temporary folder; when every file is written, a commit record (`.commit.json`: the moves and the
new manifest) is put in place atomically, then the files are moved and the manifest replaced.
A process killed before the commit record leaves the old store (plus a staging folder removed
by the next write); one killed after it is rolled forward by the next open. Either way a
reader sees the old store or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer import __version__
from tradeformer.data.schema import TIMESTAMP, to_ns
from tradeformer.errors import DataError, NotFoundError

MANIFEST = "manifest.json"
COMMIT = ".commit.json"
FORMAT = "tradeformer-bar-store"
FORMAT_VERSION = 1
_SAFE = re.compile(r"[^A-Za-z0-9._^=+-]")


def safe_name(symbol: str) -> str:
    """File-system safe file stem for a symbol (`BTC/USD` -> `BTC_USD`)."""
    return _SAFE.sub("_", symbol)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a frame's column names and values (independent of the Parquet writer)."""
    h = hashlib.sha256()
    for col in frame.columns:
        h.update(str(col).encode())
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            h.update(to_ns(s).tobytes())
        elif pd.api.types.is_bool_dtype(s.dtype):
            h.update(s.to_numpy(dtype=bool).tobytes())
        else:
            h.update(np.ascontiguousarray(s.to_numpy(dtype="float64")).tobytes())
    return h.hexdigest()


class BarStore:
    """A directory of validated bars (see module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ----------------------------------------------------------------- reading
    @property
    def manifest(self) -> dict:
        self.recover()
        p = self.root / MANIFEST
        if not p.exists():
            raise NotFoundError(
                f"{self.root} is not a tradeformer store (no {MANIFEST}); "
                "create one with `tradeformer data import` or `tradeformer data download`"
            )
        m = json.loads(p.read_text())
        if m.get("format") != FORMAT:
            raise DataError(f"{p}: not a tradeformer bar store manifest")
        return m

    def exists(self) -> bool:
        self.recover()
        return (self.root / MANIFEST).exists()

    def recover(self) -> bool:
        """Finish a write whose commit record is in place (a killed writer); True if one was."""
        record = self.root / COMMIT
        if not record.exists():
            return False
        self._apply(json.loads(record.read_text()))
        return True

    def _apply(self, commit: dict) -> None:
        """Moves, then the manifest, then drop the record and the staging folder (idempotent:
        a move already made is skipped)."""
        for tmp, final in commit["moves"]:
            src, dst = self.root / tmp, self.root / final
            dst.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):  # moved already (or by a reader)
                os.replace(src, dst)
        fd, tmp_manifest = tempfile.mkstemp(prefix=".manifest-", dir=self.root)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(commit["manifest"], indent=2, default=str))
        os.replace(tmp_manifest, self.root / MANIFEST)
        (self.root / COMMIT).unlink(missing_ok=True)
        staging = self.root / commit["staging"]
        shutil.rmtree(staging, ignore_errors=True)

    def _drop_stale_staging(self) -> None:
        for old in self.root.glob(".staging-*"):  # from writers killed before their commit
            shutil.rmtree(old, ignore_errors=True)
        for old in self.root.glob(".manifest-*"):
            old.unlink(missing_ok=True)

    def timeframes(self) -> list[str]:
        return list(self.manifest["entries"])

    def symbols(self, timeframe: str | None = None) -> list[str]:
        entries = self.manifest["entries"]
        tf = timeframe or self.default_timeframe()
        if tf not in entries:
            raise NotFoundError(f"timeframe {tf!r} not in store {self.root} (has {list(entries)})")
        return sorted(entries[tf])

    def default_timeframe(self) -> str:
        m = self.manifest
        return m.get("base_timeframe") or next(iter(m["entries"]))

    def path(self, symbol: str, timeframe: str) -> Path:
        return self.root / timeframe / f"{safe_name(symbol)}.parquet"

    def read(self, symbol: str, timeframe: str | None = None) -> pd.DataFrame:
        tf = timeframe or self.default_timeframe()
        entries = self.manifest["entries"].get(tf, {})
        if symbol not in entries:
            raise NotFoundError(f"{symbol!r} ({tf}) not in store {self.root}")
        return pd.read_parquet(self.root / entries[symbol]["file"])

    def read_all(
        self, timeframe: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, pd.DataFrame]:
        tf = timeframe or self.default_timeframe()
        return {s: self.read(s, tf) for s in (symbols or self.symbols(tf))}

    def summary(self) -> pd.DataFrame:
        rows = []
        for tf, entries in self.manifest["entries"].items():
            for sym, e in sorted(entries.items()):
                rows.append(
                    {"timeframe": tf, "symbol": sym, **{k: e[k] for k in ("rows", "start", "end")}}
                )
        return pd.DataFrame(rows)

    # ----------------------------------------------------------------- writing
    def write(
        self,
        bars: dict[str, pd.DataFrame],
        timeframe: str,
        *,
        meta: dict | None = None,
        base: bool = True,
    ) -> list[Path]:
        """Write every symbol's frame for one timeframe atomically; update the manifest."""
        return self.write_many(
            {timeframe: bars}, meta=meta, base_timeframe=timeframe if base else None
        )

    def write_many(
        self,
        by_timeframe: dict[str, dict[str, pd.DataFrame]],
        *,
        meta: dict | None = None,
        base_timeframe: str | None = None,
    ) -> list[Path]:
        """Write several timeframes at once (all staged, then committed); update the manifest.
        One writer at a time per store."""
        manifest = self.manifest if self.exists() else _new_manifest()
        self.root.mkdir(parents=True, exist_ok=True)
        self._drop_stale_staging()
        # under the root as given: Python 3.12's mkdtemp returns an absolute path even for a
        # relative `dir`, which `relative_to(self.root)` would then refuse
        staging = self.root / Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root)).name
        written: list[tuple[Path, Path]] = []
        committed = False
        try:
            for tf, bars in by_timeframe.items():
                entries = manifest["entries"].setdefault(tf, {})
                for sym, frame in bars.items():
                    rel = Path(tf) / f"{safe_name(sym)}.parquet"
                    tmp = staging / rel
                    tmp.parent.mkdir(parents=True, exist_ok=True)
                    frame.to_parquet(tmp, index=False, compression="zstd")
                    written.append((tmp, self.root / rel))
                    ts = frame[TIMESTAMP]
                    entries[sym] = {
                        "file": rel.as_posix(),
                        "rows": len(frame),
                        "start": str(ts.iloc[0]) if len(ts) else None,
                        "end": str(ts.iloc[-1]) if len(ts) else None,
                        "sha256": frame_fingerprint(frame),
                    }
            now = datetime.now(UTC).isoformat(timespec="seconds")
            manifest["updated_at"] = now
            manifest["tradeformer_version"] = __version__
            if base_timeframe:
                manifest["base_timeframe"] = base_timeframe
            if meta:
                manifest.setdefault("meta", {}).update(meta)
            commit = {
                "staging": staging.name,
                "moves": [
                    [t.relative_to(self.root).as_posix(), f.relative_to(self.root).as_posix()]
                    for t, f in written
                ],
                "manifest": manifest,
            }
            record = staging / COMMIT
            record.write_text(json.dumps(commit, default=str))
            os.replace(record, self.root / COMMIT)  # the commit point
            committed = True
            self._apply(commit)
        finally:
            if not committed:
                shutil.rmtree(staging, ignore_errors=True)
        return [final for _, final in written]

    def fingerprint(self, timeframe: str | None = None, symbols: list[str] | None = None) -> str:
        """One hash over the selected symbols' content hashes (a data fingerprint for caches)."""
        tf = timeframe or self.default_timeframe()
        entries = self.manifest["entries"][tf]
        h = hashlib.sha256(tf.encode())
        for s in sorted(symbols or entries):
            h.update(s.encode() + entries[s]["sha256"].encode())
        return h.hexdigest()


def _new_manifest() -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": now,
        "updated_at": now,
        "entries": {},
    }
