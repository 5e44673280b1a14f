"""Loading: CSV/Parquet, column aliases, long tables, time zones, adjustment, speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tradeformer.data import adjust_ohlc, load_bars, load_sample
from tradeformer.data.loading import parse_timestamps
from tradeformer.errors import NotFoundError


def _yahoo_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as Yahoo's CSV export writes it (Date, Open, ..., Adj Close, Volume)."""
    out = frame.rename(columns=str.title).rename(
        columns={"Timestamp": "Date", "Adj_Close": "Adj Close"}
    )
    out["Date"] = out["Date"].dt.strftime("%Y-%m-%d")
    return out


def test_yahoo_style_csv_with_aliases(aapl_daily, tmp_path):
    _yahoo_csv(aapl_daily).to_csv(tmp_path / "AAPL.csv", index=False)
    loaded = load_bars(tmp_path / "AAPL.csv")
    got = loaded.bars["AAPL"]
    assert list(got.columns) == ["timestamp", "open", "high", "low", "close", "volume", "adj_close"]
    assert got["timestamp"].dtype == "datetime64[ns]"
    np.testing.assert_allclose(got["adj_close"], aapl_daily["adj_close"], rtol=1e-12)
    assert loaded.timeframes["AAPL"] == "1D"


def test_uppercase_and_datetime_with_offsets(aapl_hourly, tmp_path):
    local = aapl_hourly["timestamp"].dt.tz_convert("America/New_York")
    csv = (
        aapl_hourly.rename(columns=str.upper)
        .assign(TIMESTAMP=local.dt.strftime("%Y-%m-%d %H:%M:%S%z"))
        .rename(columns={"TIMESTAMP": "Datetime"})
    )
    csv.to_csv(tmp_path / "AAPL.csv", index=False)
    got = load_bars(tmp_path / "AAPL.csv").bars["AAPL"]
    assert str(got["timestamp"].dt.tz) == "UTC"
    pd.testing.assert_series_equal(
        got["timestamp"],
        aapl_hourly["timestamp"].astype("datetime64[ns, UTC]"),
        check_names=False,
    )


def test_naive_intraday_is_localised_with_a_warning(aapl_hourly, tmp_path):
    naive = aapl_hourly.assign(
        timestamp=aapl_hourly["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    )
    naive.to_csv(tmp_path / "AAPL.csv", index=False)
    loaded = load_bars(tmp_path / "AAPL.csv")
    assert loaded.bars["AAPL"]["timestamp"].iloc[0] == pd.Timestamp("2023-07-26 13:30", tz="UTC")
    assert loaded.report.warnings[0].rule.value == "naive_intraday_timezone_assumed"


def test_tz_aware_midnights_are_dates():
    s = pd.Series(pd.date_range("2024-01-02", periods=3, freq="D", tz="America/New_York"))
    ts, assumed = parse_timestamps(s)
    assert ts.dtype == "datetime64[ns]" and not assumed
    assert ts.iloc[0] == pd.Timestamp("2024-01-02")


def test_long_table_with_ticker_column(shared_data, tmp_path):
    parts = []
    for sym in ("AAPL", "MSFT", "XOM"):
        f = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        parts.append(f.assign(Ticker=sym))
    pd.concat(parts).to_parquet(tmp_path / "universe.parquet", index=False)
    loaded = load_bars(tmp_path / "universe.parquet")
    assert loaded.symbols == ["AAPL", "MSFT", "XOM"]
    assert len(loaded.bars["MSFT"]) == len(parts[1])
    only = load_bars(tmp_path / "universe.parquet", symbols=["xom"])
    assert only.symbols == ["XOM"]


def test_directory_mixing_csv_and_parquet(aapl_daily, shared_data, tmp_path):
    aapl_daily.to_parquet(tmp_path / "AAPL.parquet", index=False)
    _yahoo_csv(pd.read_parquet(shared_data / "daily" / "MSFT.parquet")).to_csv(
        tmp_path / "MSFT.csv", index=False
    )
    (tmp_path / "README.md").write_text("not data")
    assert load_bars(tmp_path).symbols == ["AAPL", "MSFT"]


def test_missing_path_and_empty_dir(tmp_path):
    with pytest.raises(NotFoundError):
        load_bars(tmp_path / "nope")
    with pytest.raises(ValueError, match="no CSV or Parquet files"):
        load_bars(tmp_path)


def test_full_adjustment(aapl_daily, write_parquet):
    raw = load_bars(write_parquet(aapl_daily)).bars["AAPL"]
    adj = load_bars(write_parquet(aapl_daily), adjust=True)
    got = adj.bars["AAPL"]
    assert adj.adjusted and "adj_close" not in got.columns
    np.testing.assert_allclose(got["close"], aapl_daily["adj_close"], rtol=1e-12)
    factor = aapl_daily["adj_close"] / aapl_daily["close"]
    np.testing.assert_allclose(got["open"], aapl_daily["open"] * factor, rtol=1e-12)
    np.testing.assert_allclose(got["volume"], raw["volume"])
    # relative bar shape is unchanged: high/low ratio is invariant to the scaling
    np.testing.assert_allclose(got["high"] / got["low"], raw["high"] / raw["low"], rtol=1e-12)


def test_adjust_needs_adj_close(aapl_hourly):
    with pytest.raises(ValueError, match="no adj_close"):
        adjust_ohlc(aapl_hourly, symbol="AAPL")


def test_bundled_sample_loads_offline():
    loaded = load_sample()
    assert loaded.symbols == ["GSPC", "IXIC", "MSFT"]
    assert all(tf == "1D" for tf in loaded.timeframes.values())
    assert len(loaded.bars["MSFT"]) == 7983


@pytest.mark.real_data
def test_hundred_symbol_daily_set_loads_fast(shared_data):
    t0 = time.perf_counter()
    loaded = load_bars(shared_data / "daily")
    elapsed = time.perf_counter() - t0
    assert len(loaded.symbols) == 100
    assert sum(len(f) for f in loaded.bars.values()) > 500_000
    assert elapsed < 10, elapsed


def test_timestamps_outside_the_nanosecond_range_are_unparsable_not_a_crash():
    """Found by fuzzing the API: year 490 parsed at microsecond resolution overflowed the
    conversion to nanoseconds (an uncaught OutOfBoundsDatetime, a 500)."""
    from tradeformer.data.loading import parse_timestamps

    cases = [
        ("0490-12-06T05:30:43Z", "2001-01-02T15:30:00Z"),
        ("0490-12-06", "2001-01-02"),
        ("2990-12-06 10:00", "2001-01-02 10:00"),
    ]
    for bad, good in cases:
        ts, _ = parse_timestamps(pd.Series([bad, good]))
        assert str(ts.dtype).startswith("datetime64[ns")
        assert ts.isna().tolist() == [True, False], (bad, ts.tolist())
