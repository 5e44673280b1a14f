"""Versioned bundles under one directory, with a `current` pointer switched atomically:

    ROOT/versions/<version>/   a bundle (copied in whole, then renamed into place)
    ROOT/current               the champion's version name (replaced with os.replace)
    ROOT/promotions.jsonl      every switch: time, version, previous, reason, scores

A reader never sees a half-copied version or a half-written pointer; a previous champion
stays in `versions/` and `rollback` points back to it."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from tradeformer.errors import InputError, NotFoundError
from tradeformer.stages.locks import exclusive_lock

POINTER = "current"
LOG = "promotions.jsonl"


def is_registry(path: str | Path) -> bool:
    return (Path(path) / "versions").is_dir()


def resolve_bundle(path: str | Path) -> Path:
    """A bundle folder as given, or a registry's current champion."""
    path = Path(path)
    return path / "versions" / current_version(path) if is_registry(path) else path


def current_version(root: str | Path) -> str:
    pointer = Path(root) / POINTER
    if not pointer.exists():
        raise NotFoundError(f"{root}: no current bundle yet (promote one)")
    return pointer.read_text().strip()


def versions(root: str | Path) -> list[str]:
    return sorted(p.name for p in (Path(root) / "versions").iterdir() if not p.name.startswith("."))


def publish(bundle_dir: str | Path, root: str | Path) -> str:
    """Copy a bundle into the registry as a new version (named by time and weights hash);
    a bundle already there (same weights) is not copied again. Returns the version."""
    from tradeformer.live.signals import bundle_id

    src, root = Path(bundle_dir), Path(root)
    if not (src / "manifest.json").exists():
        raise InputError(f"{src}: not a bundle (no manifest.json)")
    bid = bundle_id(src)
    (root / "versions").mkdir(parents=True, exist_ok=True)
    same = [v for v in versions(root) if v.endswith(bid)]
    if same:
        return same[0]
    version = f"{time.strftime('%Y%m%d-%H%M%S')}-{bid}"
    tmp = root / "versions" / f".{version}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    os.rename(tmp, root / "versions" / version)  # whole or absent
    return version


def promote(root: str | Path, version: str, reason: str, **record) -> None:
    """Make `version` the current champion (one atomic rename) and log the switch."""
    root = Path(root)
    if version not in versions(root):
        raise NotFoundError(f"{root}: no version {version!r} (has {', '.join(versions(root))})")
    with exclusive_lock(root / ".lock"):
        previous = current_version(root) if (root / POINTER).exists() else None
        tmp = root / f".{POINTER}.{os.getpid()}"
        tmp.write_text(version + "\n")
        os.replace(tmp, root / POINTER)
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": version,
                 "previous": previous, "reason": reason, **record}  # fmt: skip
        with open(root / LOG, "a") as f:
            f.write(json.dumps(entry, default=float) + "\n")


def history(root: str | Path) -> list[dict]:
    path = Path(root) / LOG
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def rollback(root: str | Path) -> str:
    """Point back at the champion before the current one; returns it."""
    current = current_version(root)
    for entry in reversed(history(root)):
        if entry["version"] == current and entry.get("previous"):
            promote(root, entry["previous"], "rollback", rolled_back=current)
            return entry["previous"]
    raise NotFoundError(f"{root}: no earlier champion to roll back to")
