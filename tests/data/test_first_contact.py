"""Files a new user brings: every one gets a one-line answer, never a parser's traceback.
Each case failed (traceback, wrong rule, or silence) before the reader and the jump checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.data import DataValidationError, load_bars
from tradeformer.data.anomalies import reverting_spikes, split_like_jumps
from tradeformer.data.validation import Rule


@pytest.fixture
def bars(aapl_daily) -> pd.DataFrame:
    return aapl_daily.tail(600).reset_index(drop=True).astype({"volume": "float64"})


def _rules(report) -> set[Rule]:
    return {i.rule for i in report.issues}


def _error_rules(path) -> set[Rule]:
    with pytest.raises(DataValidationError) as e:
        load_bars(path)
    return {i.rule for i in e.value.issues}


def test_empty_and_binary_files_are_unreadable_not_tracebacks(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "XYZ.csv").write_bytes(b"")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "XYZ.csv").write_bytes(np.random.default_rng(0).bytes(4000))
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "XYZ.parquet").write_bytes(b"not parquet at all")
    for d in ("e", "b", "p"):
        assert _error_rules(tmp_path / d) == {Rule.UNREADABLE_FILE}, d


def test_day_first_dates_are_read_day_first(bars, tmp_path):
    x = bars.assign(timestamp=bars["timestamp"].dt.strftime("%d/%m/%Y"))
    x.to_csv(tmp_path / "XYZ.csv", index=False)
    loaded = load_bars(tmp_path)
    assert Rule.TIMESTAMP_FORMAT in _rules(loaded.report)
    assert (loaded.bars["XYZ"]["timestamp"] == bars["timestamp"]).all()


def test_semicolons_and_decimal_commas(bars, tmp_path):
    bars.to_csv(tmp_path / "XYZ.csv", index=False, sep=";", decimal=",")
    loaded = load_bars(tmp_path)
    assert Rule.FILE_DIALECT in _rules(loaded.report)
    np.testing.assert_allclose(loaded.bars["XYZ"]["close"], bars["close"], rtol=1e-12)


@pytest.mark.parametrize(("unit", "scale"), [("s", 10**9), ("ms", 10**6)])
def test_integer_epochs(bars, tmp_path, unit, scale):
    x = bars.assign(timestamp=bars["timestamp"].astype("int64") // scale)
    x.to_csv(tmp_path / "XYZ.csv", index=False)
    loaded = load_bars(tmp_path)
    assert (loaded.bars["XYZ"]["timestamp"] == bars["timestamp"]).all()
    assert any("epoch" in i.detail for i in loaded.report.issues)


def test_yyyymmdd_integers(bars, tmp_path):
    x = bars.assign(timestamp=bars["timestamp"].dt.strftime("%Y%m%d").astype(int))
    x.to_parquet(tmp_path / "XYZ.parquet", index=False)
    loaded = load_bars(tmp_path)
    assert (loaded.bars["XYZ"]["timestamp"] == bars["timestamp"]).all()


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_other_encodings(bars, tmp_path, encoding):
    x = bars.rename(columns={"timestamp": "Date"}).assign(note="café")
    x.to_csv(tmp_path / "XYZ.csv", index=False, encoding=encoding)
    loaded = load_bars(tmp_path)
    np.testing.assert_allclose(loaded.bars["XYZ"]["close"], bars["close"])


def test_one_symbol_in_two_files_is_a_duplicate_symbol(bars, tmp_path):
    bars.to_csv(tmp_path / "XYZ.csv", index=False)
    bars.to_parquet(tmp_path / "XYZ.parquet", index=False)
    assert _error_rules(tmp_path) == {Rule.DUPLICATE_SYMBOL}


def _split(frame: pd.DataFrame, at: int, k: float) -> pd.DataFrame:
    """Unadjusted k:1 split (k < 1: reverse) from row `at` on: prices / k, volume x k."""
    x = frame.copy()
    for c in ("open", "high", "low", "close", "adj_close"):
        if c in x:
            x.loc[at:, c] = x.loc[at:, c] / k
    x.loc[at:, "volume"] = x.loc[at:, "volume"] * k
    return x


@pytest.mark.parametrize("k", [2.0, 3.0, 4.0, 10.0, 0.5, 0.1])
def test_split_like_jumps_are_warned_and_repaired(bars, tmp_path, k):
    bad = _split(bars, 400, k)
    bad.to_parquet(tmp_path / "XYZ.parquet", index=False)
    warned = load_bars(tmp_path)  # reject policy: a warning, the data may be right
    issue = next(i for i in warned.report.warnings if i.rule is Rule.SPLIT_LIKE_JUMP)
    assert issue.rows == (400,) and issue.timestamps[0].startswith(str(bars["timestamp"][400])[:10])
    fixed = load_bars(tmp_path, policy="repair")
    rep = next(r for r in fixed.report.repairs if r.rule is Rule.SPLIT_LIKE_JUMP)
    assert f"x{1 / k:.6g}" in rep.action
    np.testing.assert_allclose(
        fixed.bars["XYZ"]["close"],
        bad["close"].iloc[-1] / bars["close"].iloc[-1] * bars["close"],
        rtol=1e-9,
    )
    assert not split_like_jumps(fixed.bars["XYZ"])


def test_fat_finger_spike_is_warned_and_dropped(bars, tmp_path):
    bad = bars.copy()
    bad.loc[300, ["close", "high"]] *= 1000
    bad.to_parquet(tmp_path / "XYZ.parquet", index=False)
    warned = load_bars(tmp_path)
    assert Rule.PRICE_SPIKE in {i.rule for i in warned.report.warnings}
    fixed = load_bars(tmp_path, policy="repair")
    assert len(fixed.bars["XYZ"]) == len(bars) - 1
    assert bars["timestamp"][300] not in set(fixed.bars["XYZ"]["timestamp"])


def test_real_bars_raise_no_jump_warning(shared_data):
    """Split-adjusted real series: no split-like jump or spike on these names."""
    for sym in ("AAPL", "MSFT", "JPM", "XOM", "NVDA", "TSLA"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        assert not split_like_jumps(d), sym
        assert reverting_spikes(d).size == 0, sym


def test_a_crash_is_not_a_split(bars):
    """A one-day -50 % move with ordinary volume is not split-like (volume must move x~2)."""
    x = bars.copy()
    x.loc[400:, ["open", "high", "low", "close"]] *= 0.5
    assert not split_like_jumps(x)


def test_a_daily_file_with_stray_intraday_stamps_is_mixed(bars, tmp_path):
    """11 daily rows stamped 10:00 instead of midnight: one bar size per file (was only a
    time-zone warning)."""
    x = bars.copy()
    x.loc[100:110, "timestamp"] = x.loc[100:110, "timestamp"] + pd.Timedelta(hours=10)
    x.to_parquet(tmp_path / "XYZ.parquet", index=False)
    assert _error_rules(tmp_path) == {Rule.MIXED_TIMEFRAME}


def test_gzipped_csv_and_thousands_separators(bars, tmp_path):
    bars.to_csv(tmp_path / "AAA.csv.gz", index=False)
    quoted = bars.assign(volume=bars["volume"].map(lambda v: f"{v:,.0f}"))
    quoted.to_csv(tmp_path / "BBB.csv", index=False)
    loaded = load_bars(tmp_path)
    for sym in ("AAA", "BBB"):
        np.testing.assert_allclose(loaded.bars[sym]["volume"], bars["volume"].round())


def test_thousands_separators_in_a_file_that_repeats_a_column(bars, tmp_path):
    x = bars[["timestamp", "open", "high", "low", "close", "volume"]].copy()
    x["volume"] = x["volume"].map(lambda v: f"{v:,.0f}")
    x.insert(5, "Close", x["close"])  # `Close` and `close`: a duplicate_column, not a crash
    x.to_csv(tmp_path / "XYZ.csv", index=False)
    assert _error_rules(tmp_path) == {Rule.DUPLICATE_COLUMN}
    fixed = load_bars(tmp_path, policy="repair")
    np.testing.assert_allclose(fixed.bars["XYZ"]["volume"], bars["volume"].round())
