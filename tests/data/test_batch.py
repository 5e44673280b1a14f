"""`load_frames` (all symbols in one pass) gives exactly what loading each symbol alone gives:
the same bars, bar sizes, report and errors, on real bars and on corrupted ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.data.batch import _clean_fast, load_frames
from tradeformer.data.loading import finalize_bars, normalize_table
from tradeformer.data.validation import DataValidationError, ValidationReport

DAILY = ("AAPL", "MSFT", "XOM", "JPM", "CCL", "NVDA", "KO", "AMD")


def one_by_one(frames: dict[str, pd.DataFrame], policy: str = "reject", min_bars: int = 120):
    """The reference: normalise and validate each symbol on its own."""
    norm, parse = {}, {}
    for s, raw in frames.items():
        raw = raw if isinstance(raw.index, pd.RangeIndex) else raw.reset_index()
        norm[s], parse[s] = normalize_table(raw, symbol=s, source="request")
    return finalize_bars(
        norm,
        dict.fromkeys(frames, "request"),
        parse,
        ValidationReport(),
        policy=policy,
        min_bars=min_bars,
        adjust=False,
    )


def assert_same(frames: dict[str, pd.DataFrame], policy: str = "reject", min_bars: int = 120):
    try:
        ref = one_by_one(frames, policy, min_bars)
    except DataValidationError as e:
        ref_error = e
    else:
        ref_error = None
    if ref_error is not None:
        with pytest.raises(DataValidationError) as got_error:
            load_frames(frames, policy=policy, min_bars=min_bars)
        assert str(got_error.value) == str(ref_error)
        assert got_error.value.issues == ref_error.issues
        return None
    got = load_frames(frames, policy=policy, min_bars=min_bars)
    assert list(got.bars) == list(ref.bars)
    for s in ref.bars:
        pd.testing.assert_frame_equal(got.bars[s], ref.bars[s], check_exact=True)
    assert got.timeframes == ref.timeframes
    assert got.report.issues == ref.report.issues
    assert got.report.repairs == ref.report.repairs
    return got


@pytest.fixture(scope="module")
def daily(shared_data) -> dict[str, pd.DataFrame]:
    out = {}
    for k, s in enumerate(DAILY):
        b = pd.read_parquet(shared_data / "daily" / f"{s}.parquet")
        out[s] = b.iloc[-(240 + 37 * k) :].reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def hourly(shared_data) -> dict[str, pd.DataFrame]:
    files = sorted((shared_data / "hourly").glob("*.parquet"))[:4]
    return {p.stem: pd.read_parquet(p).iloc[-300:].reset_index(drop=True) for p in files}


def test_clean_daily_and_hourly_take_the_fast_path(daily, hourly):
    for frames in (daily, hourly):
        assert_same(frames)
        fast, _ = _clean_fast(frames, min_bars=120, default_tz="America/New_York")
        assert set(fast) == set(frames)


def test_corrupted_symbols_report_exactly_as_alone(daily):
    frames = dict(daily)
    bad = frames["MSFT"].copy()
    bad.loc[50, "close"] = np.nan
    frames["MSFT"] = bad
    bad = frames["XOM"].copy()
    bad.loc[60, "high"] = bad.loc[60, "low"] * 0.5
    frames["XOM"] = bad
    frames["JPM"] = frames["JPM"].iloc[[*range(100), 101, 100, *range(102, 240)]]
    frames["JPM"] = frames["JPM"].reset_index(drop=True)
    frames["KO"] = pd.concat([frames["KO"], frames["KO"].iloc[-1:]], ignore_index=True)
    repaired = assert_same(frames, policy="repair")
    assert repaired is not None and len(repaired.report.repairs) >= 4
    frames["AMD"] = frames["AMD"].iloc[:50]  # too short: not repairable
    assert_same(frames)  # raises, with every symbol's problems
    assert_same(frames, policy="repair")
    fast, _ = _clean_fast(frames, min_bars=120, default_tz="America/New_York")
    assert set(fast) == {"AAPL", "CCL", "NVDA"}


def test_warnings_and_mixed_spacing_match(daily):
    frames = dict(daily)
    z = frames["CCL"].copy()
    z.loc[10, "volume"] = 0.0
    frames["CCL"] = z
    gap = frames["NVDA"].drop(index=range(100, 104)).reset_index(drop=True)  # one 6-day gap
    frames["NVDA"] = gap
    weekly = frames["KO"].iloc[::5].reset_index(drop=True)
    frames["KO"] = pd.concat([weekly] * 1, ignore_index=True)
    assert_same(frames, min_bars=40)
    fast, tfs = _clean_fast(frames, min_bars=40, default_tz="America/New_York")
    assert "CCL" not in fast  # its zero-volume warning comes from the per-symbol path
    assert tfs["KO"] == "1W" and tfs["AAPL"] == "1D" and tfs["NVDA"] == "1D"


def test_string_timestamps_offsets_and_time_zones(daily, hourly):
    as_text = {
        s: b.assign(timestamp=b["timestamp"].dt.strftime("%Y-%m-%d")) for s, b in daily.items()
    }
    assert_same(as_text)
    with_offsets = {
        s: b.assign(timestamp=b["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S%z"))
        for s, b in hourly.items()
    }
    assert_same(with_offsets)
    naive_clock = {
        s: b.assign(timestamp=b["timestamp"].dt.tz_localize(None)) for s, b in hourly.items()
    }
    assert_same(naive_clock)  # a warning per symbol: the zone was assumed
    # yfinance-style daily bars: local midnights, tz-aware
    local = {
        s: b.assign(timestamp=b["timestamp"].dt.tz_localize("America/New_York"))
        for s, b in daily.items()
    }
    assert_same(local)
    # one all-midnight symbol among intraday ones in the same zone: alone it is daily
    ny_hourly = {
        s: b.assign(timestamp=b["timestamp"].dt.tz_convert("America/New_York"))
        for s, b in hourly.items()
    }
    assert_same({**ny_hourly, "AAPL_D": local["AAPL"]})
    tz = "America/New_York"
    assert _clean_fast({**ny_hourly, "AAPL_D": local["AAPL"]}, min_bars=120, default_tz=tz) is None
    assert _clean_fast(naive_clock, min_bars=120, default_tz=tz) is None
    for frames in (as_text, with_offsets, local):
        assert set(_clean_fast(frames, min_bars=120, default_tz=tz)[0]) == set(frames)


def test_different_layouts_and_indexes(daily, hourly):
    mixed = {"AAPL": daily["AAPL"], next(iter(hourly)): next(iter(hourly.values()))}
    assert_same(mixed)
    renamed = dict(daily)
    renamed["MSFT"] = renamed["MSFT"].rename(columns={"timestamp": "Date", "close": "Close"})
    assert_same(renamed)
    indexed = {s: b.set_index("timestamp") for s, b in daily.items()}
    assert_same(indexed)
    assert_same({"AAPL": daily["AAPL"].iloc[:0]})
