"""The model bundle: a directory of data, not code.

`manifest.json` (format, package and library versions, resolved config, feature schema with
column order, the members with their registry kind, config and constructor arguments, embedding
backend, data fingerprint, calendar, metrics, sha256 of every file), one
`<member>.safetensors` per ensemble member (e.g. `timeformer`, `tft`), `scaler.safetensors`,
`veto.txt` (LightGBM's text format) and, for the `local` embedding backend,
`embedding_model/` (safetensors). No pickle.
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

from tradeformer import __version__
from tradeformer.dataset.universe import Scaler
from tradeformer.errors import BundleError
from tradeformer.features.columns import CLASSICAL_COLUMNS, FEATURE_VERSION
from tradeformer.models.base import ForecastModel
from tradeformer.models.persist import load_member, member_files, save_member
from tradeformer.models.registry import describe_model

BUNDLE_FORMAT = 2  # 2: members as a mapping (any registered network); 1: timeformer + tft
LIBRARIES = ("torch", "lightgbm", "numpy", "pandas", "safetensors")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    return {
        "tradeformer": __version__,
        "python": platform.python_version(),
        **{lib: pkg_version(lib) for lib in LIBRARIES},
    }


def save_bundle(
    folder: Path,
    *,
    members: dict[str, tuple[str, ForecastModel]],
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
    decision: dict | None = None,
) -> Path:
    """Write the bundle into `folder` atomically: built in `<folder>.partial`, then swapped in
    (a process killed part-way leaves the previous bundle or none, never half of one).
    `members`: {name: (registry kind, trained model)}, in ensemble order."""
    final = Path(folder)
    folder = final.with_name(final.name + ".partial")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, (_, model) in members.items():
        save_member(model, folder, name)
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
        },
        "models": {name: describe_model(kind, m) for name, (kind, m) in members.items()},
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
    m = json.loads((folder / "manifest.json").read_text())
    h = hashlib.sha256()
    weights = [f for k, e in m["models"].items() for f in member_files(k, e)]
    for name in (*weights, "scaler.safetensors", "veto.txt"):
        h.update(sha256(folder / name).encode())
    return h.hexdigest()


@dataclass
class Bundle:
    folder: Path
    manifest: dict
    members: dict[str, ForecastModel]  # in ensemble order
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


def _members_of_format_1(m: dict) -> dict:
    """A format-1 manifest (the fixed TimeFormer + TFT pair) in format 2's terms: the same
    files and, for the veto, the same feature order (only its column names changed)."""
    m = dict(m, format_version=2)
    old = m["models"]
    m["models"] = {
        "timeformer": {"kind": "timeformer", "config": old["timeformer"], "init": {}},
        "tft": {
            "kind": "tft",
            "config": old["tft"],
            "init": {"variable_names": m["schema"]["tft_variables"]},
        },
    }
    return m


def load_bundle(folder: str | Path) -> Bundle:
    """Load and verify a bundle; raises BundleError naming what does not match."""
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.exists():
        raise BundleError(f"{folder}: no manifest.json (not a tradeformer bundle)")
    try:
        m = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BundleError(
            f"{folder}: manifest.json is not JSON (not a tradeformer bundle)"
        ) from None
    if not isinstance(m, dict) or m.get("format") != "tradeformer-bundle":
        what = m.get("format") if isinstance(m, dict) else None
        kind = f" (its manifest.json is a {what})" if what else ""
        raise BundleError(
            f"{folder}: not a tradeformer bundle{kind}; pass the `bundle` folder of a run "
            "(runs/<id>/bundle)"
        )
    problems = []
    if m.get("format_version") == 1:
        m = _members_of_format_1(m)
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
    members = {}
    for name, entry in m["models"].items():
        try:
            members[name] = load_member(entry, folder, name)
        except ValueError as e:  # a member kind this installation has not registered
            raise BundleError(f"cannot load bundle {folder}: member {name}: {e}") from None
    veto = lgb.Booster(model_file=str(folder / "veto.txt"))
    scaler = Scaler.load(folder / "scaler.safetensors")
    return Bundle(folder, m, members, veto, scaler)
