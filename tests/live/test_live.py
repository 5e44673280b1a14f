"""The signal job and its ledger on a tiny cross-sectional bundle: one row per (as-of bar,
symbol, horizon, bundle) and none twice after reruns; signals as of a date ignore the bars
after it (the future perturbed, the same signals); a store that is behind is refused with the
symbols and dates and nothing written; outcomes are the label's forward return, filled once;
a killed append leaves the ledger as before or as after; the live report renders."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tradeformer.cli import app
from tradeformer.errors import DataError, NotFoundError
from tradeformer.inference.predictor import Predictor
from tradeformer.live.ledger import KEY, Ledger
from tradeformer.live.record_report import render_live_report
from tradeformer.live.scoring import score_ledger
from tradeformer.live.signals import issue_signals

MONTHS = ["2015-01-30", "2015-02-27", "2015-03-31"]


@pytest.fixture
def live(cs_run):
    return cs_run


def _import(source: Path, out: Path) -> Path:
    r = CliRunner().invoke(app, ["data", "import", str(source), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_reruns_write_each_signal_once(live, tmp_path):
    bundle, store, _, _ = live
    predictor = Predictor.load(bundle)
    ledger = Ledger(tmp_path / "ledger.db")
    for until in MONTHS:
        for attempt in range(2):
            run = issue_signals(predictor, bundle, store, ledger, until=pd.Timestamp(until))
            assert (run.inserted, run.already) == ((18, 0) if attempt == 0 else (0, 18))
    rows = ledger.read()
    assert len(rows) == 6 * len(MONTHS) * 3  # symbols x dates x horizons
    assert not rows.duplicated(list(KEY)).any()
    assert sorted(rows["as_of"].str[:10].unique()) == ["2015-01-30", "2015-02-27", "2015-03-31"]
    assert set(rows["horizon"]) == {3, 5, 10} and rows["score_kind"].eq("cs_rank").all()
    # the decision horizon's rows are what `predict` says at that bar
    out = predictor.predict_store(store, until=pd.Timestamp(MONTHS[-1])).set_index("symbol")
    last = rows[(rows["as_of"].str[:10] == MONTHS[-1]) & (rows["horizon"] == 3)]
    last = last.set_index("symbol").loc[out.index]
    np.testing.assert_allclose(last["score"], out["score"], atol=1e-12)
    assert (last["action"] == out["action"]).all()


def test_signals_as_of_a_date_never_see_later_bars(live, tmp_path):
    bundle, _, source, _ = live
    future = tmp_path / "future"
    future.mkdir()
    for f in source.glob("*.parquet"):  # everything after the as-of date replaced by noise
        d = pd.read_parquet(f)
        late = d["timestamp"] > MONTHS[0]
        d.loc[late, ["open", "high", "low", "close"]] *= 1.7
        d.loc[late, "volume"] *= 0.1
        d.to_parquet(future / f.name, index=False)
    a, b = Ledger(tmp_path / "a.db"), Ledger(tmp_path / "b.db")
    predictor = Predictor.load(bundle)
    plain = _import(source, tmp_path / "plain_store")
    moved = _import(future, tmp_path / "future_store")
    issue_signals(predictor, bundle, plain, a, until=pd.Timestamp(MONTHS[0]))
    issue_signals(predictor, bundle, moved, b, until=pd.Timestamp(MONTHS[0]))
    cols = ["as_of", "symbol", "horizon", "action", "score", "veto_prob", "data_fingerprint"]
    pd.testing.assert_frame_equal(a.read()[cols], b.read()[cols])


def test_a_store_behind_is_refused_naming_symbols_and_dates(live, tmp_path):
    bundle, _, source, _ = live
    behind = tmp_path / "behind"
    behind.mkdir()
    for f in source.glob("*.parquet"):
        d = pd.read_parquet(f)
        if f.stem == "IID02":
            d = d[d["timestamp"] <= "2015-03-20"]
        d.to_parquet(behind / f.name, index=False)
    store = _import(behind, tmp_path / "store")
    ledger = Ledger(tmp_path / "ledger.db")
    predictor = Predictor.load(bundle)
    with pytest.raises(DataError, match=r"IID02 \(last 2015-03-20\)"):
        issue_signals(predictor, bundle, store, ledger, until=pd.Timestamp("2015-03-31"))
    assert ledger.read().empty
    # the same store is fine as of a date every symbol has
    issue_signals(predictor, bundle, store, ledger, until=pd.Timestamp("2015-03-20"))
    assert len(ledger.read()) == 18
    (behind / "IID04.parquet").unlink()
    fewer = _import(behind, tmp_path / "fewer")
    with pytest.raises(NotFoundError, match="IID04"):
        issue_signals(predictor, bundle, fewer, ledger, until=pd.Timestamp("2015-03-20"))


def test_outcomes_are_forward_returns_filled_once(live, tmp_path):
    bundle, store, source, _ = live
    ledger = Ledger(tmp_path / "ledger.db")
    predictor = Predictor.load(bundle)
    for until in MONTHS:
        issue_signals(predictor, bundle, store, ledger, until=pd.Timestamp(until))
    # as of 2015-04-03 (3 bars after March 31): only the 3-bar signals of March are due
    counts = score_ledger(ledger, store, until=pd.Timestamp("2015-04-03"))
    rows = ledger.read()
    march = rows[rows["as_of"].str.startswith("2015-03-31")]
    assert march.loc[march["horizon"] == 3, "realized_return"].notna().all()
    assert march.loc[march["horizon"] > 3, "realized_return"].isna().all()
    assert counts["filled"] == 6 * 3 * 2 + 6
    bars = pd.read_parquet(source / "IID01.parquet").set_index("timestamp")["close"]
    row = rows[(rows["symbol"] == "IID01") & (rows["horizon"] == 5)].iloc[0]
    t = bars.index.get_loc(pd.Timestamp(row["as_of"]))
    assert row["realized_return"] == pytest.approx(np.log(bars.iloc[t + 5] / bars.iloc[t]))
    assert pd.Timestamp(row["realized_at"]) == bars.index[t + 5]
    assert row["close"] == pytest.approx(bars.iloc[t])
    score_ledger(ledger, store)  # everything due now; what was filled stays as it was
    again = ledger.read()
    assert again["realized_return"].notna().all()
    pd.testing.assert_series_equal(
        again.loc[rows["realized_return"].notna(), "realized_return"],
        rows.loc[rows["realized_return"].notna(), "realized_return"],
    )


KILLED_APPEND = """
import sys, time, pandas as pd, sqlalchemy as sa
from tradeformer.live.ledger import Ledger, SIGNAL_COLUMNS
n, hold = int(sys.argv[2]), sys.argv[3] == "hold"
rows = pd.DataFrame({c: ["x"] * n for c in SIGNAL_COLUMNS})
for c in ("horizon", "decision_horizon"):
    rows[c] = 3
for c in ("score", "expected_return", "confidence", "veto_prob", "close"):
    rows[c] = 0.5
rows["symbol"] = [f"S{i}" for i in range(n)]
ledger = Ledger(sys.argv[1])

@sa.event.listens_for(ledger.engine, "after_execute")
def written_not_committed(conn, clause, *args):
    if hold and getattr(clause, "is_insert", False):
        print("inserted", flush=True)  # every row written, the transaction still open
        time.sleep(60)

ledger.append(rows)
print("committed", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(("when", "expected"), [("hold", 0), ("after", 5000)])
def test_a_killed_append_leaves_the_ledger_before_or_after(tmp_path, when, expected):
    db = tmp_path / "ledger.db"
    Ledger(db)
    cmd = [sys.executable, "-c", KILLED_APPEND, str(db), "5000", when]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == ("inserted" if when == "hold" else "committed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(Ledger(db).read()) == expected


def test_cli_job_score_and_report(live, tmp_path):
    bundle, store, _, _ = live
    db = str(tmp_path / "ledger.db")
    runner = CliRunner()
    for until in MONTHS:
        args = ["signals", "--bundle", str(bundle), "--data", str(store), "--ledger", db]
        r = runner.invoke(app, [*args, "--until", until])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ledger", "score", "--data", str(store), "--ledger", db])
    assert r.exit_code == 0 and "scored 54 of 54" in " ".join(r.output.split()), r.output
    out = tmp_path / "report"
    r = runner.invoke(app, ["ledger", "report", "--ledger", db, "--out", str(out)])
    assert r.exit_code == 0, r.output
    page = (out / "index.html").read_text()
    assert "rank IC" in page and "majority" in page and "backtest" in page
    assert len(list(out.glob("*.png"))) == 2
    record = json.loads((out / "record.json").read_text())
    (recs,) = record.values()
    assert [r["horizon"] for r in recs] == [3, 5, 10]
    assert all(r["n_signals"] == 18 for r in recs)
    r = runner.invoke(app, ["ledger", "show", "--ledger", db])
    assert r.exit_code == 0 and "54 signals" in " ".join(r.output.split())


def test_report_of_an_empty_ledger_says_what_to_do(tmp_path):
    r = CliRunner().invoke(app, ["ledger", "report", "--ledger", str(tmp_path / "e.db")])
    assert r.exit_code == NotFoundError.exit_code and "tradeformer signals" in r.output
    with pytest.raises(KeyError):
        render_live_report(pd.DataFrame(), tmp_path)
