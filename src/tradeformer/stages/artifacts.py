"""Reading and writing the arrays stages hand each other (safetensors, written atomically)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from tradeformer.dataset.universe import Scaler
from tradeformer.errors import StageError
from tradeformer.models.base import ForecastModel
from tradeformer.models.persist import load_member, save_member
from tradeformer.models.registry import describe_model

Predictions = dict[str, dict[str, np.ndarray]]  # {member: {output: (n, ...) array}}
PREDICTIONS = "deep/predictions.safetensors"
FINAL = "deep/final"


def require(run_dir: Path, relpath: str, stage: str) -> Path:
    """The artefact's path, or a StageError naming the stage that writes it."""
    path = Path(run_dir) / relpath
    if not path.exists():
        raise StageError(f"{run_dir}: no {relpath}; run the {stage} stage first")
    return path


def save_predictions(path: Path, parts: dict[str, tuple[np.ndarray, Predictions]]) -> None:
    """{part: (rows, predictions)} for parts such as `fold0`, `fold1`, `test`."""
    arrays, members = {}, []
    for part, (rows, preds) in parts.items():
        members += [m for m in preds if m not in members]
        arrays[f"{part}.rows"] = np.asarray(rows, dtype=np.int64)
        for member, outputs in preds.items():
            for key, value in outputs.items():
                arrays[f"{part}.{member}.{key}"] = np.ascontiguousarray(value)
    # one metadata entry: the header's map of entries has no fixed order (bytes would vary)
    meta = {"layout": json.dumps({"parts": list(parts), "members": members})}
    _atomic(path, lambda tmp: save_file(arrays, str(tmp), metadata=meta))


def load_predictions(path: Path) -> dict[str, tuple[np.ndarray, Predictions]]:
    """`save_predictions`'s parts, in their order, each member in ensemble order (the file
    stores arrays by sorted name; the order is in its metadata)."""
    with safe_open(str(path), framework="numpy") as f:
        layout = json.loads(f.metadata()["layout"])
    arrays = load_file(str(path))
    out: dict[str, tuple[np.ndarray, Predictions]] = {}
    for part in layout["parts"]:
        preds: Predictions = {}
        for member in layout["members"]:
            keys = [k for k in arrays if k.startswith(f"{part}.{member}.")]
            preds[member] = {k.split(".")[2]: arrays[k] for k in keys}
        out[part] = (arrays[f"{part}.rows"], preds)
    return out


def save_members(folder: Path, members: dict[str, tuple[str, ForecastModel]], scaler) -> None:
    """The final members' weights, their manifest entries and the scaler they were fitted with."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (_, model) in members.items():
        save_member(model, folder, name)
    scaler.save(folder / "scaler.safetensors")
    entries = {name: describe_model(kind, m) for name, (kind, m) in members.items()}
    (folder / "members.json").write_text(json.dumps(entries, indent=2))


def load_members(folder: Path) -> tuple[dict[str, tuple[str, ForecastModel]], Scaler]:
    entries = json.loads((folder / "members.json").read_text())
    members = {name: (e["kind"], load_member(e, folder, name)) for name, e in entries.items()}
    return members, Scaler.load(folder / "scaler.safetensors")


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
