"""Every validation rule, triggered by corrupting real bars from ../shared/data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.data import DataValidationError, Rule, load_bars
from tradeformer.data.resample import resample


def _only_error(exc: pytest.ExceptionInfo, rule: Rule):
    errors = exc.value.issues
    assert [e.rule for e in errors] == [rule], [e.message for e in errors]
    return errors[0]


def _corrupt(frame: pd.DataFrame, row: int, **values) -> pd.DataFrame:
    out = frame.copy()
    for col, v in values.items():
        out.loc[row, col] = v
    return out


def test_clean_real_daily_passes(aapl_daily, write_parquet):
    loaded = load_bars(write_parquet(aapl_daily))
    assert loaded.timeframes == {"AAPL": "1D"}
    assert loaded.report.errors == []
    pd.testing.assert_series_equal(loaded.bars["AAPL"]["close"], aapl_daily["close"])


def test_missing_column(aapl_daily, write_parquet):
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(aapl_daily.drop(columns="volume")))
    issue = _only_error(e, Rule.MISSING_COLUMNS)
    assert issue.symbol == "AAPL"
    assert "missing column(s) volume" in issue.message


def test_unparsable_timestamp_names_row_and_text(aapl_daily, tmp_path):
    csv = aapl_daily.copy()
    csv["timestamp"] = csv["timestamp"].dt.strftime("%Y-%m-%d")
    csv.loc[1234, "timestamp"] = "2004-13-45"
    (tmp_path / "bars").mkdir()
    csv.to_csv(tmp_path / "bars" / "AAPL.csv", index=False)
    with pytest.raises(DataValidationError) as e:
        load_bars(tmp_path / "bars")
    issue = _only_error(e, Rule.UNPARSABLE_TIMESTAMP)
    assert issue.rows == (1234,)
    assert "'2004-13-45'" in issue.message
    assert "AAPL: unparsable_timestamp at row 1234" in issue.message


def test_unsorted(aapl_daily, write_parquet):
    bad = aapl_daily.copy()
    bad.iloc[[500, 501]] = bad.iloc[[501, 500]].to_numpy()
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(bad))
    issue = _only_error(e, Rule.UNSORTED)
    assert issue.rows == (501,)
    assert str(aapl_daily["timestamp"].iloc[500]) in issue.message


def test_duplicate_timestamp(aapl_daily, write_parquet):
    bad = pd.concat([aapl_daily.iloc[:301], aapl_daily.iloc[300:]], ignore_index=True)
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(bad))
    issue = _only_error(e, Rule.DUPLICATE)
    assert issue.rows == (301,)
    assert str(aapl_daily["timestamp"].iloc[300]) in issue.message


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf(aapl_daily, write_parquet, value):
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(_corrupt(aapl_daily, 777, close=value)))
    errors = e.value.issues
    assert errors[0].rule is Rule.NAN_OR_INF
    assert errors[0].rows == (777,)
    assert "close" in errors[0].message
    assert str(aapl_daily["timestamp"].iloc[777]) in errors[0].message


def test_non_positive_price(aapl_daily, write_parquet):
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(_corrupt(aapl_daily, 42, low=0.0)))
    issue = _only_error(e, Rule.NON_POSITIVE_PRICE)
    assert issue.rows == (42,)
    assert "low=0" in issue.message


def test_high_below_open_close(aapl_daily, write_parquet):
    row = aapl_daily.iloc[900]
    h = min(row["open"], row["close"]) * 0.99
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(_corrupt(aapl_daily, 900, high=h)))
    errors = e.value.issues
    assert {x.rule for x in errors} >= {Rule.HIGH_BELOW_OPEN_CLOSE}
    issue = next(x for x in errors if x.rule is Rule.HIGH_BELOW_OPEN_CLOSE)
    assert issue.rows == (900,)
    assert "high < max(open, close)" in issue.message


def test_low_above_open_close(aapl_daily, write_parquet):
    row = aapl_daily.iloc[901]
    lo = min(row["open"], row["close"]) * 1.001
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(_corrupt(aapl_daily, 901, low=lo)))
    issue = _only_error(e, Rule.LOW_ABOVE_OPEN_CLOSE)
    assert issue.rows == (901,)
    assert "low > min(open, close)" in issue.message


def test_negative_volume(aapl_daily, write_parquet):
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(_corrupt(aapl_daily, 10, volume=-5)))
    issue = _only_error(e, Rule.NEGATIVE_VOLUME)
    assert issue.rows == (10,)
    assert "volume=-5" in issue.message


def test_history_shorter_than_lookback(aapl_daily, write_parquet):
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(aapl_daily.iloc[:80]), min_bars=120)
    issue = _only_error(e, Rule.TOO_SHORT)
    assert "80 bars < lookback 120" in issue.message
    assert load_bars(write_parquet(aapl_daily.iloc[:80]), min_bars=60).report.errors == []


def test_mixed_hourly_and_daily_rows(aapl_hourly, aapl_daily, write_parquet):
    daily = aapl_daily[aapl_daily["timestamp"] >= "2024-01-01"].drop(columns="adj_close")
    daily = daily.assign(timestamp=daily["timestamp"].dt.tz_localize("UTC"))
    mixed = pd.concat([aapl_hourly, daily]).sort_values("timestamp", kind="stable")
    mixed = mixed.drop_duplicates("timestamp").reset_index(drop=True)
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(mixed))
    issue = _only_error(e, Rule.MIXED_TIMEFRAME)
    assert "main step 60 min" in issue.message


def test_mixed_daily_and_weekly_rows(aapl_daily, write_parquet):
    early = aapl_daily[aapl_daily["timestamp"] < "2012-01-01"].drop(columns="adj_close")
    weekly = resample(aapl_daily[aapl_daily["timestamp"] >= "2012-01-01"], "1W")
    mixed = pd.concat([early, weekly[early.columns]], ignore_index=True)
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(mixed))
    issue = _only_error(e, Rule.MIXED_TIMEFRAME)
    assert "1D" in issue.message and "1W" in issue.message


def test_real_hourly_with_half_days_is_one_timeframe(aapl_hourly, write_parquet):
    loaded = load_bars(write_parquet(aapl_hourly))
    assert loaded.timeframes["AAPL"] == "1H"


def test_every_error_listed_at_once(aapl_daily, write_parquet):
    bad = _corrupt(aapl_daily, 5, volume=-1)
    bad = _corrupt(bad, 6, close=np.nan)
    folder = write_parquet(bad)
    write_parquet(aapl_daily.iloc[:10], name="MSFT")
    with pytest.raises(DataValidationError) as e:
        load_bars(folder)
    found = {(i.symbol, i.rule) for i in e.value.issues}
    assert found == {
        ("AAPL", Rule.NEGATIVE_VOLUME),
        ("AAPL", Rule.NAN_OR_INF),
        ("MSFT", Rule.TOO_SHORT),
    }
    text = str(e.value)
    assert "3 data problem(s)" in text and "MSFT: history_shorter_than_lookback" in text


def test_repair_policy_drops_and_reports(aapl_daily, write_parquet):
    bad = _corrupt(aapl_daily, 100, close=np.nan)
    bad = _corrupt(bad, 200, volume=-3)
    bad = pd.concat([bad.iloc[:301], bad.iloc[300:]], ignore_index=True)  # duplicate row 300
    bad.iloc[[400, 401]] = bad.iloc[[401, 400]].to_numpy()  # unsorted
    before = bad.copy()
    loaded = load_bars(write_parquet(bad), policy="repair")
    out = loaded.bars["AAPL"]
    assert len(out) == len(aapl_daily) - 2
    assert out["timestamp"].is_monotonic_increasing and out["timestamp"].is_unique
    rules = {r.rule: r.rows for r in loaded.report.repairs}
    assert rules == {
        Rule.UNSORTED: len(bad),
        Rule.NAN_OR_INF: 1,
        Rule.NEGATIVE_VOLUME: 1,
        Rule.DUPLICATE: 1,
    }
    pd.testing.assert_frame_equal(bad, before)  # input untouched


def test_repair_cannot_fix_short_history(aapl_daily, write_parquet):
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(aapl_daily.iloc[:50]), policy="repair")
    assert e.value.issues[0].rule is Rule.TOO_SHORT


@pytest.mark.real_data
def test_zero_volume_is_a_warning_on_real_data(shared_data):
    loaded = load_bars(shared_data / "daily", symbols=["CHTR", "AAPL"])
    warn = [w for w in loaded.report.warnings if w.rule is Rule.ZERO_VOLUME]
    assert [w.symbol for w in warn] == ["CHTR"]
    assert warn[0].count == 18


def test_daily_file_whose_last_rows_are_hourly(aapl_daily, aapl_hourly, write_parquet):
    """The mixed column is read as intraday; the daily bars are each alone at midnight."""
    daily = aapl_daily[aapl_daily["timestamp"] < "2023-07-26"].drop(columns="adj_close")
    hours = aapl_hourly.iloc[:70]
    naive = hours.assign(
        timestamp=hours["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    )
    mixed = pd.concat([daily, naive], ignore_index=True)
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(mixed))
    issue = _only_error(e, Rule.MIXED_TIMEFRAME)
    assert issue.rows[0] == len(daily)  # the first hourly row
    assert "date-level bars (one per day, at midnight) mixed with 10 days of intraday" in (
        issue.message
    )
    with pytest.raises(DataValidationError):  # repair does not guess the bar size
        load_bars(write_parquet(mixed), policy="repair")


def test_hourly_csv_with_daily_rows(aapl_hourly, aapl_daily, tmp_path):
    hours = aapl_hourly.copy()
    hours["timestamp"] = hours["timestamp"].dt.tz_convert("America/New_York")
    hours["timestamp"] = hours["timestamp"].dt.strftime("%Y-%m-%d %H:%M")
    days = aapl_daily[aapl_daily["timestamp"] < "2023-07-01"].tail(30).drop(columns="adj_close")
    days = days.assign(timestamp=days["timestamp"].dt.strftime("%Y-%m-%d"))
    (tmp_path / "bars").mkdir()
    pd.concat([days, hours]).to_csv(tmp_path / "bars" / "AAPL.csv", index=False)
    with pytest.raises(DataValidationError) as e:
        load_bars(tmp_path / "bars")
    issue = next(i for i in e.value.issues if i.rule is Rule.MIXED_TIMEFRAME)
    assert "30 date-level bars" in issue.message and "first date-level bar" in issue.message
    assert issue.rows[0] == 0


@pytest.mark.parametrize(
    ("names", "canon"),
    [(["Close", "close"], "close"), (["Adj Close", "Adj Close"], "adj_close")],
)
def test_duplicate_columns_after_alias_mapping(aapl_daily, tmp_path, names, canon):
    frame = aapl_daily.drop(columns=["close", "adj_close"]).copy()
    frame.insert(4, "first", aapl_daily[canon])
    frame.insert(5, "second", aapl_daily[canon] * 1.01)
    if canon == "adj_close":
        frame.insert(4, "close", aapl_daily["close"])
    frame.columns = [{"first": names[0], "second": names[1]}.get(c, c) for c in frame.columns]
    (tmp_path / "bars").mkdir()
    frame.to_csv(tmp_path / "bars" / "AAPL.csv", index=False)
    with pytest.raises(DataValidationError) as e:
        load_bars(tmp_path / "bars")
    issue = _only_error(e, Rule.DUPLICATE_COLUMN)
    assert f"columns {names[0]!r}, {names[1]!r} all map to {canon!r}" in issue.message
    repaired = load_bars(tmp_path / "bars", policy="repair")
    np.testing.assert_allclose(repaired.bars["AAPL"][canon], aapl_daily[canon], rtol=1e-9)
    assert [r.rule for r in repaired.report.repairs] == [Rule.DUPLICATE_COLUMN]


def test_bar_stamped_decades_in_the_future(aapl_daily, write_parquet):
    bad = aapl_daily.copy()
    bad.loc[len(bad) - 1, "timestamp"] = pd.Timestamp("2055-01-04")
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(bad))
    issue = _only_error(e, Rule.FUTURE_TIMESTAMP)
    assert issue.rows == (len(bad) - 1,) and "2055-01-04" in issue.message
    repaired = load_bars(write_parquet(bad), policy="repair")
    assert len(repaired.bars["AAPL"]) == len(bad) - 1
    assert {r.rule: r.rows for r in repaired.report.repairs} == {Rule.FUTURE_TIMESTAMP: 1}


def test_as_of_time_is_configurable(aapl_daily, aapl_hourly, write_parquet):
    n_after = int((aapl_daily["timestamp"] > "2020-07-01").sum())  # already 07-01 in UTC+14
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(aapl_daily), as_of="2020-06-30 12:00")
    issue = _only_error(e, Rule.FUTURE_TIMESTAMP)
    assert issue.count == n_after and "as-of date 2020-07-01" in issue.message  # UTC+14
    cut = aapl_hourly["timestamp"].iloc[100]
    with pytest.raises(DataValidationError) as e:
        load_bars(write_parquet(aapl_hourly), as_of=cut)
    assert _only_error(e, Rule.FUTURE_TIMESTAMP).rows[0] == 101
