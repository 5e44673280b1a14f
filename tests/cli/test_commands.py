"""CLI: validate, import, info, demo; clear non-zero exits; no partial output on failure."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from tradeformer.cli import app

runner = CliRunner()


def test_validate_real_daily_and_hourly(shared_data):
    for folder in ("daily", "hourly"):
        res = runner.invoke(app, ["data", "validate", str(shared_data / folder)])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "validate", str(shared_data / "hourly"), "--json"])
    rep = json.loads(res.output)
    assert rep["errors"] == [] and rep["symbols"]["AAPL"]["timeframe"] == "1H"


def test_validate_reports_problem_and_exits_3(aapl_daily, write_parquet):
    bad = aapl_daily.copy()
    bad.loc[321, "volume"] = -1
    res = runner.invoke(app, ["data", "validate", str(write_parquet(bad))])
    assert res.exit_code == 3  # DataError
    when = aapl_daily["timestamp"].iloc[321]
    assert f"AAPL: negative_volume at row 321 ({when})" in res.output


def test_import_is_all_or_nothing(aapl_daily, write_parquet, tmp_path):
    folder = write_parquet(aapl_daily)
    bad = aapl_daily.copy()
    bad.loc[5, "close"] = float("nan")
    write_parquet(bad, name="BAD")
    out = tmp_path / "store"
    res = runner.invoke(app, ["data", "import", str(folder), "--out", str(out)])
    assert res.exit_code == 3
    assert not out.exists() or not any(out.rglob("*"))
    res = runner.invoke(
        app, ["data", "import", str(folder), "--out", str(out), "--policy", "repair"]
    )
    assert res.exit_code == 0, res.output
    assert "repaired" in res.output
    info = runner.invoke(app, ["data", "info", str(out)])
    assert info.exit_code == 0 and "BAD" in info.output
    assert len(pd.read_parquet(out / "1D" / "BAD.parquet")) == len(aapl_daily) - 1
    assert (out / "1W" / "AAPL.parquet").exists() and (out / "1M" / "AAPL.parquet").exists()


def test_import_hourly_derives_4h_and_daily(shared_data, tmp_path):
    out = tmp_path / "h"
    res = runner.invoke(
        app,
        [
            "data",
            "import",
            str(shared_data / "hourly"),
            "--out",
            str(out),
            "--derive",
            "4H,1D,1W,1M",
        ],
    )
    assert res.exit_code == 0, res.output
    four = pd.read_parquet(out / "4H" / "AAPL.parquet")
    assert four["n_bars"].max() == 4


def test_bad_arguments(tmp_path):
    assert runner.invoke(app, ["data", "validate", str(tmp_path / "x")]).exit_code == 4
    res = runner.invoke(app, ["data", "validate", str(tmp_path), "--policy", "fix"])
    assert res.exit_code == 2
    assert runner.invoke(app, ["data", "info", str(tmp_path)]).exit_code == 4


def test_demo_runs_offline(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--quick"])
    assert res.exit_code == 0, res.output
    assert "demo finished" in res.output
    bundles = list((tmp_path / "demo" / "runs").glob("demo-*/bundle/manifest.json"))
    assert len(bundles) == 1
    run = bundles[0].parent.parent
    assert (run / "report" / "index.html").exists()
    assert "spec vs measured" in res.output
    ablated = {
        r["variant"]
        for r in json.loads((run / "evaluation" / "evaluation.json").read_text())["ablations"]
    }
    assert ablated >= {"no_embedding", "no_mtf", "no_smc", "no_ta"}


def test_demo_runs_on_other_data_with_overrides(tiny_source, tmp_path):
    args = ["demo", "--out", str(tmp_path / "d"), "--data", str(tiny_source), "--quick"]
    sets = ["calendar.test_start=2015-01-01", "calendar.val_bars=120", "calendar.n_folds=2"]
    for s in sets:
        args += ["--set", s]
    res = runner.invoke(app, [*args, "--ablations", "no_ta"])
    assert res.exit_code == 0, res.output
    assert "AAPL" in res.output and "demo finished" in res.output
    res = runner.invoke(app, [*args[:4], "--set", "calendar.n_folds=1"])
    assert res.exit_code == 2, res.output
    assert "n_folds" in res.output


def test_validate_names_the_new_rules_and_takes_as_of(aapl_daily, write_parquet):
    bad = aapl_daily.copy()
    bad.loc[len(bad) - 1, "timestamp"] = pd.Timestamp("2055-01-04")
    folder = write_parquet(bad)
    res = runner.invoke(app, ["data", "validate", str(folder)])
    assert res.exit_code == 3
    assert "AAPL: timestamp_in_the_future at row" in res.output
    assert "Traceback" not in res.output
    ok = runner.invoke(app, ["data", "validate", str(folder), "--as-of", "2100-01-01"])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(app, ["data", "validate", str(folder), "--as-of", "yesterday-ish"])
    assert res.exit_code == 2 and "--as-of 'yesterday-ish'" in res.output


def test_errors_map_to_exit_codes_and_bugs_crash_loudly(monkeypatch, tmp_path):
    """A deliberate error is one line and its class's exit code; anything else is a bug: it
    is logged and raised with its traceback, not turned into a one-line 'error'."""
    from tradeformer.cli import data as data_cli

    res = runner.invoke(app, ["data", "info", str(tmp_path)])
    assert res.exit_code == 4 and "error:" in res.output and res.exception is not None
    assert isinstance(res.exception, SystemExit)

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(data_cli, "load_bars", boom)
    res = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert res.exit_code == 1
    assert "tradeformer crashed (a bug" in res.output
    assert res.output.count("Traceback (most recent call last)") == 1  # once, not by click too


def test_scheduler_option_runs_import_and_features_on_dask(shared_data, tmp_path):
    folder = tmp_path / "bars"
    folder.mkdir()
    for sym in ("AAPL", "KO", "XOM"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        d[d["timestamp"] >= "2018-01-01"].to_parquet(folder / f"{sym}.parquet", index=False)
    bad = ["data", "import", str(folder), "--out", str(tmp_path / "x"), "--scheduler", "nope"]
    res = runner.invoke(app, bad)
    assert res.exit_code == 2 and "tcp://host:port or 'local'" in res.output
    stores = {}
    for name, extra in (("pool", []), ("dask", ["--scheduler", "local"])):
        out = tmp_path / name
        res = runner.invoke(app, ["data", "import", str(folder), "--out", str(out), *extra])
        assert res.exit_code == 0, res.output
        feats = tmp_path / f"features-{name}"
        args = ["features", "build", "--data", str(out), "--out", str(feats), *extra]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        stores[name] = (out, feats)
    for sym in ("AAPL", "KO", "XOM"):
        for k, sub in ((0, "1D"), (0, "1W"), (1, "1D")):
            a, b = (stores[n][k] / sub / f"{sym}.parquet" for n in ("pool", "dask"))
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)
