"""The experiment config: shipped configs load, the cross-sectional sections validate, and
per-model training overrides are applied and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeformer.config import ConfigError, load_config, model_training

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.name


def test_cross_sectional_config_and_per_model_training():
    cfg = load_config(Path(CONFIGS[0]).parent / "daily100_cs.yaml")
    assert cfg.target.kind == "cs_rank" and cfg.normalization.cross_sectional
    assert cfg.training.batching == "dates" and cfg.ensemble.combine == "ranks"
    tf = model_training(cfg.training, cfg.models["timeformer"])
    tft = model_training(cfg.training, cfg.models["tft"])
    assert tf.max_samples_per_epoch > tft.max_samples_per_epoch
    assert tft.epochs == 2 and tf.epochs == cfg.training.epochs
    assert tft.batching == "dates"  # the rest of the section is inherited


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("models.tft.training", {"epochz": 3}, "models.tft.training: epochz"),
        ("target.kind", "zscore", "target.kind"),
        ("normalization.context", "rank", "normalization.context"),
        ("veto.coverage", 1.5, "veto.coverage"),
        ("training.batching", "symbols", "training.batching"),
    ],
)
def test_bad_cross_sectional_settings_name_the_field(key, value, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(Path(CONFIGS[0]).parent / "daily100_cs.yaml", {key: value})
