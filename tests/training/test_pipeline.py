"""The training pipeline end to end: leakage, determinism, bundle round trip, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny_config
from tradeformer.bundle import BundleError, load_bundle
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="module")
def runs(tiny_source, tmp_path_factory):
    """A: a run; B: the same seed from a fresh cache; C: test-period labels shuffled."""
    shared = tmp_path_factory.mktemp("shared")
    a = run_training(tiny_config(tiny_source, shared), progress=False)
    b = run_training(tiny_config(tiny_source, tmp_path_factory.mktemp("fresh")), progress=False)

    def shuffle_test_labels(u, calendar):
        rows = u.rows_between(calendar.test_start, calendar.test_end, labeled=False)
        perm = np.random.default_rng(0).permutation(rows)
        u.ret[rows] = u.ret[perm]
        u.direction[rows] = u.direction[perm]

    c = run_training(
        tiny_config(tiny_source, shared), label_hook=shuffle_test_labels, progress=False
    )
    return a, b, c


def test_same_seed_same_bundle_and_metrics(runs):
    a, b, _ = runs
    assert a["weights_hash"] == b["weights_hash"]
    assert json.dumps(a["metrics"], sort_keys=True) == json.dumps(b["metrics"], sort_keys=True)


def test_shuffling_test_labels_changes_nothing_before_the_test(runs):
    a, _, c = runs
    assert a["weights_hash"] == c["weights_hash"]  # models, scaler and veto never saw them
    for key in ("oof", "train_period"):
        assert a["metrics"][key] == c["metrics"][key]
    assert a["metrics"]["veto"]["valid_fold"] == c["metrics"]["veto"]["valid_fold"]
    # ... while the test metrics do see the shuffled labels (the hook worked)
    assert a["metrics"]["test"] != c["metrics"]["test"]


def test_outputs_and_spec_fields(runs):
    a, _, _ = runs
    from pathlib import Path

    run = Path(a["run_dir"])
    for name in (
        "config.yaml",
        "calendar.json",
        "metrics.json",
        "oof.parquet",
        "test_predictions.parquet",
        "veto/veto.txt",
        "veto/veto_importance.csv",
        "deep/fold0/timeformer/metrics.csv",
        "deep/fold1/tft/metrics.json",
    ):
        assert (run / name).exists(), name
    preds = pd.read_parquet(run / "test_predictions.parquet")
    for col in (
        "action",
        "expected_return",
        "confidence",
        "stockformer_ret",
        "timeformer_ret",
        "tft_ret",
        "veto_prob",
    ):
        assert col in preds.columns
    assert set(preds["action"]) <= {"BUY", "SELL", "HOLD"}
    hold = preds["action"] == "HOLD"
    assert (preds.loc[hold, "veto_prob"] < 0.65).all()
    assert (preds.loc[~hold, "veto_prob"] >= 0.65).all()
    expected = 0.525 * preds["timeformer_ret"] + 0.475 * preds["tft_ret"]
    np.testing.assert_allclose(preds["expected_return"], expected, rtol=1e-5, atol=1e-9)
    imp = pd.read_csv(run / "veto" / "veto_importance.csv")
    assert len(imp) == 29 + 512 + 6 + 4  # the spec's 551 veto features


def test_bundle_loads_and_refuses_tampering(runs, tmp_path):
    a, _, _ = runs
    import shutil
    from pathlib import Path

    b = load_bundle(a["bundle"])
    m = b.manifest
    assert m["schema"]["embedding_dim"] == 512
    assert m["embedding"]["backend"] == "local"
    assert (Path(a["bundle"]) / "embedding_model" / "model.safetensors").exists()
    assert not list(Path(a["bundle"]).rglob("*.pkl"))
    bad = tmp_path / "bundle"
    shutil.copytree(a["bundle"], bad)
    mf = json.loads((bad / "manifest.json").read_text())
    mf["versions"]["tradeformer"] = "9.9.0"
    mf["schema"]["classical_columns"] = ["rsi"]
    (bad / "manifest.json").write_text(json.dumps(mf))
    with (bad / "veto.txt").open("a") as f:
        f.write("\n")
    with pytest.raises(BundleError) as e:
        load_bundle(bad)
    msg = str(e.value)
    assert "tradeformer 9.9.0" in msg
    assert "classical feature columns" in msg
    assert "veto.txt does not match" in msg
