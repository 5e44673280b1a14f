"""The commands on inputs a new user brings: one line, the right exit code, JSON when asked."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import tiny_config
from tradeformer.cli import app
from tradeformer.stages.pipeline import run_training

runner = CliRunner()


def test_validate_json_is_printed_when_validation_fails(aapl_daily, tmp_path):
    bad = aapl_daily.tail(300).reset_index(drop=True)
    bad.loc[10, "low"] = bad.loc[10, "high"] * 2
    bad.to_parquet(tmp_path / "XYZ.parquet", index=False)
    (tmp_path / "EMPTY.csv").write_bytes(b"")
    res = runner.invoke(app, ["data", "validate", str(tmp_path), "--json"])
    assert res.exit_code == 3
    rep = json.loads(res.stdout)
    assert rep["valid"] is False
    assert {e["rule"] for e in rep["errors"]} == {"low_above_open_close", "unreadable_file"}


def test_import_refusal_names_the_repair_policy_and_success_is_a_sentence(aapl_daily, tmp_path):
    bad = aapl_daily.tail(300).reset_index(drop=True)
    bad.loc[10, "low"] = bad.loc[10, "high"] * 2
    src = tmp_path / "bars"
    src.mkdir()
    bad.to_parquet(src / "XYZ.parquet", index=False)
    out = tmp_path / "store"
    res = runner.invoke(app, ["data", "import", str(src), "--out", str(out)])
    assert res.exit_code == 3 and "--policy repair" in res.output
    res = runner.invoke(app, ["data", "import", str(src), "--out", str(out), "--policy", "repair"])
    assert res.exit_code == 0, res.output
    assert "{" not in res.output and "1D 1" in res.output and "1 repair(s)" in res.output


def test_info_gives_totals_json_repairs_and_incomplete_bars(aapl_daily, tmp_path):
    src = tmp_path / "bars"
    src.mkdir()
    for sym in ("AAA", "BBB"):  # the last bar (2024-08-26) leaves August unfinished
        aapl_daily.tail(400).to_parquet(src / f"{sym}.parquet", index=False)
    out = tmp_path / "store"
    assert runner.invoke(app, ["data", "import", str(src), "--out", str(out)]).exit_code == 0
    info = json.loads(runner.invoke(app, ["data", "info", str(out), "--json"]).stdout)
    assert info["timeframes"]["1D"]["bars"] == 800 and info["timeframes"]["1D"]["symbols"] == 2
    assert info["timeframes"]["1M"]["incomplete_last_bar"] == ["AAA", "BBB"]
    assert info["symbols"]["AAA"]["1M"]["last_bar_complete"] is False
    text = runner.invoke(app, ["data", "info", str(out)]).output
    assert "incomplete" in text and "800" in text


@pytest.fixture(scope="module")
def trained(tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fc")
    summary = run_training(tiny_config(tiny_source, tmp), progress=False)
    store = next((tmp / "cache" / "stores").iterdir())
    return summary, store


def test_predict_with_a_store_as_bundle_is_exit_5_in_one_line(trained):
    _, store = trained
    res = runner.invoke(app, ["predict", "--bundle", str(store), "--data", str(store)])
    assert res.exit_code == 5, res.output
    assert "not a tradeformer bundle" in res.output and "Traceback" not in res.output


def test_predict_matches_case_and_keeps_going_past_unknown_symbols(trained, tiny_source):
    summary, _ = trained
    args = ["predict", "--bundle", summary["bundle"], "--data", str(tiny_source)]
    res = runner.invoke(app, [*args, "aapl", "NOPE"])
    assert res.exit_code == 4, res.output
    assert "AAPL" in res.output and "NOPE" in res.output
    assert f"--data {tiny_source}" in res.output and ".tradeformer_cache" not in res.output
    res = runner.invoke(app, [*args, "xom"])
    assert res.exit_code == 0 and "XOM" in res.output and "%" in res.output  # returns


def test_csv_written_by_predict(trained, tiny_source, tmp_path):
    summary, _ = trained
    out = tmp_path / "p.csv"
    args = ["predict", "--bundle", summary["bundle"], "--data", str(tiny_source), "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    assert "expected_return" in pd.read_csv(out).columns
