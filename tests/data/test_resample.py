"""Session-aware resampling: hand-checked bars, half-days, DST, hourly -> daily vs real."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.data.resample import resample, with_available_at

UTC = "UTC"


def _hand_day(local_date: str, n: int = 7) -> pd.DataFrame:
    """n hourly bars from 09:30 New York with easy numbers: bar i has O=i+10 H=i+12 L=i+9 C=i+11."""
    start = pd.Timestamp(f"{local_date} 09:30", tz="America/New_York")
    i = np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "timestamp": [(start + pd.Timedelta(hours=k)).tz_convert(UTC) for k in range(n)],
            "open": i + 10,
            "high": i + 12,
            "low": i + 9,
            "close": i + 11,
            "volume": 100 * (i + 1),
        }
    )


def test_4h_bars_are_session_halves_by_hand():
    bars = pd.concat([_hand_day("2024-03-08"), _hand_day("2024-03-11")], ignore_index=True)
    out = resample(bars, "4H", source="1H")
    assert len(out) == 4
    first, second = out.iloc[0], out.iloc[1]
    # 09:30-13:30 New York (EST = UTC-5): bars 0..3
    assert first["timestamp"] == pd.Timestamp("2024-03-08 14:30", tz=UTC)
    assert (first["open"], first["high"], first["low"], first["close"]) == (10, 15, 9, 14)
    assert (first["volume"], first["n_bars"]) == (1000, 4)
    assert first["available_at"] == pd.Timestamp("2024-03-08 18:30", tz=UTC)
    # 13:30-16:00: bars 4..6, complete at the 16:00 close, not at 17:30
    assert (second["open"], second["high"], second["low"], second["close"]) == (14, 18, 13, 17)
    assert (second["volume"], second["n_bars"]) == (1800, 3)
    assert second["available_at"] == pd.Timestamp("2024-03-08 21:00", tz=UTC)
    # after the DST switch (EDT = UTC-4) buckets still start at the 09:30 open
    assert out.iloc[2]["timestamp"] == pd.Timestamp("2024-03-11 13:30", tz=UTC)
    assert out.iloc[3]["available_at"] == pd.Timestamp("2024-03-11 20:00", tz=UTC)
    assert out["complete"].all()


def test_1h_of_hourly_is_identity_with_short_last_bar(aapl_hourly):
    out = resample(aapl_hourly, "1H")
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(out[col].to_numpy(), aapl_hourly[col].to_numpy(float))
    day = out[out["timestamp"].dt.strftime("%Y-%m-%d") == "2024-08-20"]
    ends = day["available_at"].dt.tz_convert("America/New_York").dt.strftime("%H:%M")
    assert ends.tolist() == ["10:30", "11:30", "12:30", "13:30", "14:30", "15:30", "16:00"]


@pytest.mark.real_data
def test_half_day_bars_end_at_the_early_close(aapl_hourly):
    day = aapl_hourly[aapl_hourly["timestamp"].dt.strftime("%Y-%m-%d") == "2024-11-29"]
    assert len(day) == 3
    four = resample(aapl_hourly, "4H")
    bar = four[four["timestamp"] == pd.Timestamp("2024-11-29 14:30", tz=UTC)].iloc[0]
    assert bar["n_bars"] == 3
    assert bar["available_at"] == pd.Timestamp("2024-11-29 18:00", tz=UTC)  # 13:00 New York
    assert bar["high"] == day["high"].max() and bar["close"] == day["close"].iloc[-1]
    daily = resample(aapl_hourly, "1D")
    d = daily[daily["timestamp"] == pd.Timestamp("2024-11-29")].iloc[0]
    assert d["available_at"] == pd.Timestamp("2024-11-29 18:00", tz=UTC)


def test_hourly_to_daily_matches_real_daily_closes(shared_data):
    errors = []
    for path in sorted((shared_data / "daily_recent").glob("*.parquet")):
        hourly = pd.read_parquet(shared_data / "hourly" / path.name)
        daily = pd.read_parquet(path)
        ours = resample(hourly, "1D")
        both = ours.merge(daily, on="timestamp", suffixes=("", "_ref"))
        assert len(both) > 600, path.stem
        errors.append(np.abs(both["close"] / both["close_ref"] - 1))
        # volume is the sum of the session's bars: same order of magnitude as the daily volume
        ratio = np.median(both["volume"] / both["volume_ref"])
        assert 0.6 < ratio < 1.05, (path.stem, ratio)
    err = pd.concat(errors)
    assert err.median() < 0.001
    assert err.quantile(0.99) < 0.01


@pytest.mark.real_data
def test_weekly_by_hand_on_real_daily(aapl_daily):
    week = resample(aapl_daily, "1W")
    bar = week[week["timestamp"] == pd.Timestamp("2024-08-19")].iloc[0]
    # AAPL 2024-08-19 (Mon) .. 2024-08-23 (Fri), read off the daily bars
    assert bar["open"] == pytest.approx(225.720001)
    assert bar["high"] == pytest.approx(228.339996)
    assert bar["low"] == pytest.approx(223.039993)
    assert bar["close"] == pytest.approx(226.839996)
    assert bar["volume"] == 188_124_900
    assert bar["n_bars"] == 5
    assert bar["available_at"] == pd.Timestamp("2024-08-23 20:00", tz=UTC)
    # the data end on Monday 2024-08-26: that week is not complete and is flagged
    assert week.iloc[-1]["timestamp"] == pd.Timestamp("2024-08-26")
    assert not week.iloc[-1]["complete"]
    assert week.iloc[-1]["available_at"] == pd.Timestamp("2024-08-30 20:00", tz=UTC)
    assert week["complete"].iloc[:-1].all()


def test_monthly_on_real_daily(aapl_daily):
    month = resample(aapl_daily, "1M")
    july = month[month["timestamp"] == pd.Timestamp("2024-07-01")].iloc[0]
    assert july["n_bars"] == 22  # 23 weekdays less Independence Day
    assert july["available_at"] == pd.Timestamp("2024-07-31 20:00", tz=UTC)
    jan_2001 = month[month["timestamp"] == pd.Timestamp("2001-01-01")].iloc[0]
    assert jan_2001["available_at"] == pd.Timestamp("2001-01-31 21:00", tz=UTC)  # EST
    src = aapl_daily[aapl_daily["timestamp"].dt.strftime("%Y-%m") == "2024-07"]
    assert july["open"] == src["open"].iloc[0] and july["close"] == src["close"].iloc[-1]
    assert july["high"] == src["high"].max() and july["low"] == src["low"].min()
    assert not month.iloc[-1]["complete"]


def test_weekly_from_hourly_equals_weekly_from_its_daily(aapl_hourly):
    via_daily = resample(resample(aapl_hourly, "1D"), "1W", source="1D")
    direct = resample(aapl_hourly, "1W")
    for col in ("timestamp", "open", "high", "low", "close", "volume", "available_at"):
        np.testing.assert_array_equal(direct[col].to_numpy(), via_daily[col].to_numpy())


def test_available_at_never_before_the_bar_ends(aapl_hourly):
    out = with_available_at(aapl_hourly)
    assert (out["available_at"] > out["timestamp"]).all()
    # a regular bar ends an hour after it starts; a half-day's last bar runs to the 13:00 close
    length = out["available_at"] - out["timestamp"]
    assert (length <= pd.Timedelta(minutes=90)).all()
    assert (length == pd.Timedelta(minutes=60)).mean() > 0.8
    daily = resample(aapl_hourly, "1D")
    last_bar = aapl_hourly.groupby(
        aapl_hourly["timestamp"].dt.tz_convert("America/New_York").dt.date
    )["timestamp"].max()
    assert (daily["available_at"].to_numpy() > last_bar.to_numpy()).all()


@pytest.mark.parametrize(("src", "to"), [("1D", "1H"), ("1D", "4H"), ("1W", "1M")])
def test_refuses_impossible_resampling(aapl_daily, src, to):
    frame = aapl_daily if src == "1D" else resample(aapl_daily, "1W")
    with pytest.raises(ValueError, match=r"cannot|straddle"):
        resample(frame, to, source=src)
