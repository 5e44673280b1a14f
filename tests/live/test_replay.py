"""The live loop replayed month by month over half a year with a retrain every quarter: the
ledger holds symbols x dates x horizons rows with no duplicate after every date ran twice,
two champions issued signals, and every issued score is what a one-shot backtest of the
bundle that issued it gives on that date."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tradeformer.evaluation.out_of_universe import evaluate_bundle
from tradeformer.live import registry as reg
from tradeformer.live.ledger import KEY, Ledger
from tradeformer.live.record_report import render_live_report
from tradeformer.live.replay import replay


@pytest.fixture(scope="module")
def replayed(cs_run, tmp_path_factory):
    bundle, store, _, _ = cs_run
    tmp = tmp_path_factory.mktemp("replay")
    root = tmp / "registry"
    reg.promote(root, reg.publish(bundle, root), "first")
    ledger = Ledger(tmp / "ledger.db")
    months = list(pd.date_range("2015-01-01", "2015-06-30", freq="ME"))
    # tolerance 1: every challenger is promoted, so the second quarter has a new champion
    result = replay(root, store, ledger, months, retrain_every=3, tolerance=1.0)
    return root, store, ledger, result, tmp


def test_ledger_rows_and_reruns(replayed):
    root, _, ledger, result, _ = replayed
    rows = ledger.read()
    assert result.reruns_written == 0
    assert len(rows) == 6 * len(result.dates) * 3 == 6 * 6 * 3
    assert not rows.duplicated(list(KEY)).any()
    assert len(result.decisions) == 2 and all(d.promoted for d in result.decisions)
    assert rows["bundle_id"].nunique() == 2  # April's signals came from the new champion
    assert len(reg.versions(root)) == 3


def test_issued_scores_are_the_one_shot_backtest_of_their_bundle(replayed, tmp_path):
    _, store, ledger, _, _ = replayed
    rows = ledger.read().assign(date=lambda f: pd.to_datetime(f["as_of"]))
    for (bid, path), sig in rows.groupby(["bundle_id", "bundle_path"]):
        shot = evaluate_bundle(path, [store], start=sig["date"].min(), end=sig["date"].max(),
                               out_dir=tmp_path / bid, n_boot=0, progress=False)  # fmt: skip
        assert shot["n_rows"] > 0
        pred = pd.read_parquet(tmp_path / bid / "test_predictions.parquet")
        for h, part in sig.groupby("horizon"):
            m = part.merge(pred, left_on=["date", "symbol"], right_on=["timestamp", "symbol"])
            assert len(m) == len(part)
            np.testing.assert_allclose(m["score"], m[f"ensemble_ret_{h}"], atol=1e-6)


def test_live_report_of_the_replay(replayed):
    _, _, ledger, _, tmp = replayed
    page = render_live_report(ledger.read(), tmp / "report")
    record = json.loads((tmp / "report" / "record.json").read_text())
    assert len(record) == 2 and page.exists()
