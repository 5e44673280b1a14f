"""A search space: config keys (as `--set` names them) mapped to distributions.

training.max_lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
training.rank_loss_weight: {type: float, low: 0.0, high: 1.0}
training.max_samples_per_epoch: {type: int, low: 20000, high: 120000, step: 20000}
models.timeformer.overrides.d_model: {type: categorical, choices: [32, 64]}
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tradeformer.errors import ConfigError

KINDS = ("float", "int", "categorical")


def load_space(path: str | Path) -> dict[str, dict]:
    """The space file, checked: every entry names a kind and its bounds or choices."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"search space file not found: {p}")
    raw = yaml.safe_load(p.read_text()) or {}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{p}: a search space maps config keys to distributions")
    for key, spec in raw.items():
        _check(p, key, spec)
    return raw


def _check(p: Path, key: str, spec) -> None:
    if not isinstance(spec, dict) or spec.get("type") not in KINDS:
        raise ConfigError(f"{p}: {key}: needs type: one of {', '.join(KINDS)}")
    if spec["type"] == "categorical":
        if not isinstance(spec.get("choices"), list) or not spec["choices"]:
            raise ConfigError(f"{p}: {key}: a categorical needs a non-empty choices list")
        return
    if "low" not in spec or "high" not in spec or not float(spec["low"]) < float(spec["high"]):
        raise ConfigError(f"{p}: {key}: needs low < high")


def suggest(trial, space: dict[str, dict]) -> dict[str, object]:
    """One value per key from an Optuna trial."""
    out: dict[str, object] = {}
    for key, s in space.items():
        if s["type"] == "categorical":
            out[key] = trial.suggest_categorical(key, s["choices"])
        elif s["type"] == "int":
            step = int(s.get("step", 1))
            out[key] = trial.suggest_int(
                key, int(s["low"]), int(s["high"]), step=step, log=bool(s.get("log", False))
            )
        else:
            out[key] = trial.suggest_float(
                key, float(s["low"]), float(s["high"]), log=bool(s.get("log", False))
            )
    return out
