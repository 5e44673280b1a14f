"""The model bundle: a directory of data, not code.

`manifest.json` (format, package and library versions, resolved config, feature schema with
column order, embedding backend, data fingerprint, calendar, metrics, sha256 of every file),
`timeformer.safetensors`, `tft.safetensors`, `scaler.safetensors`, `veto.txt` (LightGBM's text
format) and, for the `local` embedding backend, `embedding_model/` (safetensors). No pickle.
Loading checks versions, schema and hashes, and refuses a mismatch with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path

import lightgbm as lgb
import torch
from safetensors.torch import load_file, save_file

from tradeformer import __version__
from tradeformer.dataset.universe import Scaler
from tradeformer.features.columns import CLASSICAL_COLUMNS
from tradeformer.features.pipeline import FEATURE_VERSION
from tradeformer.models.tft import TFTXL, TFTConfig
from tradeformer.models.timeformer import TimeFormerConfig, TimeFormerXL

BUNDLE_FORMAT = 1
LIBRARIES = ("torch", "lightgbm", "numpy", "pandas", "safetensors")


class BundleError(RuntimeError):
    """A bundle that cannot be used with this installation (the message says why)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    return {
        "tradeformer": __version__,
        "python": platform.python_version(),
        **{lib: pkg_version(lib) for lib in LIBRARIES},
    }


def _save_model(model: torch.nn.Module, path: Path) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(path))


def save_bundle(
    folder: Path,
    *,
    timeformer: TimeFormerXL,
    tft: TFTXL,
    veto_path: Path,
    scaler: Scaler,
    config: dict,
    embedding: dict,
    local_model_dir: Path | None,
    horizons: tuple[int, ...],
    lookback: int,
    data_fingerprint: str,
    calendar: dict,
    metrics: dict,
    veto_features: list[str],
    variable_names: list[str],
    decision: dict | None = None,
) -> Path:
    """Write the bundle into `folder` atomically: built in `<folder>.partial`, then swapped in
    (a process killed part-way leaves the previous bundle or none, never half of one)."""
    final = Path(folder)
    folder = final.with_name(final.name + ".partial")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _save_model(timeformer, folder / "timeformer.safetensors")
    _save_model(tft, folder / "tft.safetensors")
    scaler.save(folder / "scaler.safetensors")
    shutil.copyfile(veto_path, folder / "veto.txt")
    if local_model_dir is not None:
        dst = folder / "embedding_model"
        dst.mkdir(exist_ok=True)
        for name in ("model.safetensors", "config.json"):
            shutil.copyfile(local_model_dir / name, dst / name)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        "format": "tradeformer-bundle",
        "format_version": BUNDLE_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "feature_version": FEATURE_VERSION,
        "schema": {
            "classical_columns": list(CLASSICAL_COLUMNS),
            "embedding_dim": int(scaler.emb_mean.shape[0]),
            "price_channels": ["open", "high", "low", "close", "volume"],
            "lookback": lookback,
            "horizons": list(horizons),
            "veto_features": veto_features,
            "tft_variables": variable_names,
        },
        "models": {"timeformer": timeformer.config.to_dict(), "tft": tft.config.to_dict()},
        "embedding": embedding,
        "data_fingerprint": data_fingerprint,
        "calendar": calendar,
        "config": config,
        # how a prediction is decided: the veto threshold in force (fixed, or chosen for a
        # coverage), the target, and whether it needs the training universe's cross-section
        "decision": decision or {"threshold": config["veto"]["threshold"]},
        "metrics": metrics,
        "files": {p.relative_to(folder).as_posix(): sha256(p) for p in files},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(folder, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def weights_hash(folder: Path) -> str:
    """One hash over the weight files (timestamps in the manifest excluded)."""
    h = hashlib.sha256()
    for name in ("timeformer.safetensors", "tft.safetensors", "scaler.safetensors", "veto.txt"):
        h.update(sha256(folder / name).encode())
    return h.hexdigest()


@dataclass
class Bundle:
    folder: Path
    manifest: dict
    timeformer: TimeFormerXL
    tft: TFTXL
    veto: lgb.Booster
    scaler: Scaler

    @property
    def lookback(self) -> int:
        return int(self.manifest["schema"]["lookback"])

    @property
    def horizons(self) -> tuple[int, ...]:
        return tuple(self.manifest["schema"]["horizons"])


def _major_minor(v: str) -> tuple[str, ...]:
    return tuple(v.split("+")[0].split(".")[:2])


def load_bundle(folder: str | Path) -> Bundle:
    """Load and verify a bundle; raises BundleError naming what does not match."""
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.exists():
        raise BundleError(f"{folder}: no manifest.json (not a tradeformer bundle)")
    m = json.loads(mpath.read_text())
    problems = []
    if m.get("format") != "tradeformer-bundle" or m.get("format_version") != BUNDLE_FORMAT:
        problems.append(f"bundle format {m.get('format_version')} != {BUNDLE_FORMAT}")
    here = _versions()
    saved = m.get("versions", {})
    if _major_minor(saved.get("tradeformer", "")) != _major_minor(here["tradeformer"]):
        problems.append(f"made by tradeformer {saved.get('tradeformer')}, this is {__version__}")
    for lib in ("torch", "lightgbm"):
        if saved.get(lib, "").split(".")[0] != here[lib].split(".")[0]:
            problems.append(f"{lib} {saved.get(lib)} in the bundle, {here[lib]} installed")
    if m.get("feature_version") != FEATURE_VERSION:
        problems.append(f"feature version {m.get('feature_version')} != {FEATURE_VERSION}")
    if m.get("schema", {}).get("classical_columns") != list(CLASSICAL_COLUMNS):
        problems.append("classical feature columns differ from this installation's")
    for name, digest in m.get("files", {}).items():
        p = folder / name
        if not p.exists():
            problems.append(f"missing file {name}")
        elif sha256(p) != digest:
            problems.append(f"{name} does not match its sha256 in the manifest")
    if problems:
        raise BundleError(
            f"cannot load bundle {folder}:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    tf = TimeFormerXL(TimeFormerConfig(**m["models"]["timeformer"]))
    tf.load_state_dict(load_file(str(folder / "timeformer.safetensors")))
    tcfg = dict(m["models"]["tft"])
    tcfg["quantiles"] = tuple(tcfg["quantiles"])
    tft = TFTXL(TFTConfig(**tcfg), variable_names=m["schema"]["tft_variables"])
    tft.load_state_dict(load_file(str(folder / "tft.safetensors")))
    veto = lgb.Booster(model_file=str(folder / "veto.txt"))
    scaler = Scaler.load(folder / "scaler.safetensors")
    return Bundle(folder, m, tf.eval(), tft.eval(), veto, scaler)
