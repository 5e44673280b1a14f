"""A member's files: a network's state dict as safetensors (`<name>.safetensors`), a tabular
member's boosters as LightGBM text (`<name>.s<seed>.h<horizon>.lgb.txt`). No pickle."""

from __future__ import annotations

import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from tradeformer.models.registry import is_tabular, model_from_manifest


def member_files(name: str, entry: dict) -> list[str]:
    """The files `save_member` writes for the member described by manifest `entry`."""
    if "n_horizons" in entry:  # tabular
        seeds, k = int(entry.get("seeds", 1)), int(entry["n_horizons"])
        return [f"{name}.s{i}.h{j}.lgb.txt" for i in range(seeds) for j in range(k)]
    return [f"{name}.safetensors"]


def save_member(model, folder: Path, name: str) -> None:
    """Write a trained member into `folder` (each file written whole, then renamed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if is_tabular(model):
        model.save(folder, name)
        return
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path = folder / f"{name}.safetensors"
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)


def load_member(entry: dict, folder: Path, name: str):
    """The member `entry` (a manifest entry) describes, with its saved weights or trees."""
    seeds = int(entry.get("seeds", 1))
    model = model_from_manifest(entry["kind"], entry["config"], entry.get("init"), seeds)
    if is_tabular(model):
        return model.load(folder, name, int(entry["n_horizons"]))
    model.load_state_dict(load_file(str(Path(folder) / f"{name}.safetensors")))
    return model.eval()
