"""The registry: a third network joins the ensemble with a module, a registry line and a
config entry, and flows through training, the veto, the bundle and prediction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny_config
from tests.models.last_bar_member import LastBarConfig, LastBarLinear
from tradeformer.bundle import BundleError, load_bundle
from tradeformer.errors import ConfigError
from tradeformer.inference import Predictor
from tradeformer.models import REGISTRY, build_model, register
from tradeformer.stages.pipeline import run_training

WEIGHTS = {"timeformer": 0.30, "tft": 0.25, "lastbar": 0.10}


@pytest.fixture(scope="module")
def lastbar():
    register("lastbar", "LastBar linear", LastBarConfig, LastBarLinear)
    yield
    REGISTRY.pop("lastbar")


@pytest.fixture(scope="module")
def three_members(lastbar, tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("three")
    base = tiny_config(tiny_source, tmp)
    raw = base.model_dump(mode="json")
    raw["models"]["lastbar"] = {"kind": "lastbar", "preset": "small"}
    raw["ensemble"]["weights"] = WEIGHTS
    cfg = type(base)(**raw)
    return run_training(cfg, progress=False), cfg


def test_build_by_kind_with_constructor_arguments():
    names = [f"v{i}" for i in range(34)]
    m = build_model("tft", "small", variable_names=names)
    assert m.variable_names == names and m.init_arguments() == {"variable_names": names}
    with pytest.raises(ValueError, match="unknown model kind 'nope'"):
        build_model("nope")


def test_a_third_member_trains_bundles_and_predicts(three_members, tiny_source):
    summary, cfg = three_members
    run = Path(summary["run_dir"])
    manifest = json.loads((run / "bundle" / "manifest.json").read_text())
    assert list(manifest["models"]) == ["timeformer", "tft", "lastbar"]
    assert list(summary["metrics"]["oof"]) == ["timeformer", "tft", "lastbar", "ensemble"]
    assert manifest["models"]["lastbar"]["kind"] == "lastbar"
    b = load_bundle(run / "bundle")
    assert isinstance(b.members["lastbar"], LastBarLinear)
    # the veto reads every member: 3 x 3 returns, 3 stds, TFT's range, TimeFormer's entropy
    names = manifest["schema"]["veto_features"]
    assert {"lastbar_ret_3", "lastbar_ret_10", "lastbar_uncertainty"} <= set(names)
    emb = manifest["schema"]["embedding_dim"]
    assert len(names) == 29 + emb + 9 + 3 + 2
    frame = pd.read_parquet(run / "test_predictions.parquet")
    h = cfg.ensemble.horizon
    members = np.stack([frame[f"{m}_ret_{h}"].to_numpy() for m in WEIGHTS])
    w = np.array(list(WEIGHTS.values()))[:, None]
    want = (w * members).sum(0) + cfg.ensemble.average * members.mean(0)
    np.testing.assert_allclose(frame["expected_return"], want, rtol=1e-6, atol=1e-9)
    pred = Predictor.load(run / "bundle")
    bars = pd.read_parquet(tiny_source / "AAPL.parquet")
    out = pred.predict_bars({"AAPL": bars}).iloc[0]
    assert {"lastbar_ret", "lastbar_ret_5", "lastbar_prob_3", "tft_q_range_10"} <= set(out.index)


def test_a_bundle_with_an_unregistered_member_is_refused(three_members):
    summary, _ = three_members
    spec = REGISTRY.pop("lastbar")
    try:
        with pytest.raises(BundleError, match="member lastbar: unknown model kind 'lastbar'"):
            load_bundle(Path(summary["run_dir"]) / "bundle")
    finally:
        REGISTRY["lastbar"] = spec


def test_member_config_errors(tiny_source, tmp_path):
    raw = tiny_config(tiny_source, tmp_path).model_dump(mode="json")
    raw["models"]["extra"] = {"kind": "timeformer"}
    with pytest.raises(ValueError, match=re.escape("ensemble.weights names")):
        type(tiny_config(tiny_source, tmp_path))(**raw)
    raw["ensemble"]["weights"] = {"timeformer": 0.3, "tft": 0.2, "extra": 0.15}
    cfg = type(tiny_config(tiny_source, tmp_path))(**raw)  # a second TimeFormer: allowed
    assert cfg.member_kind("extra") == "timeformer"
    raw["models"]["extra"] = {"kind": "nope"}
    with pytest.raises(ConfigError, match=re.escape("models.extra: unknown model kind 'nope'")):
        run_training(type(cfg)(**raw), run_dir=tmp_path / "r", progress=False)
    raw["models"]["extra"] = {"kind": "tft", "preset": "huge"}
    with pytest.raises(ConfigError, match=re.escape("models.extra.preset 'huge'")):
        run_training(type(cfg)(**raw), run_dir=tmp_path / "r", progress=False)
    raw["models"]["my_net"] = {}
    with pytest.raises(ValueError, match=re.escape("models.my_net: a member name")):
        type(cfg)(**raw)
