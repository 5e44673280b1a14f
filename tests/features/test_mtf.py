"""MTF alignment vs the spec's `compute_mtf_alignment` run on the bars up to each t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.features import mtf_features

NY = "America/New_York"


def spec_bias(closes: pd.Series) -> float:
    """The spec's rule on one timeframe's closes (last one = the bar in progress)."""
    fast = closes.ewm(span=9).mean().iloc[-1]
    slow = closes.ewm(span=21).mean().iloc[-1]
    last = closes.iloc[-1]
    if last > fast > slow:
        return 1.0
    if last < fast < slow:
        return -1.0
    return 0.0


def resample_closes(bars: pd.DataFrame, tf: str) -> pd.Series:
    """Closes per timeframe, written independently with pandas (session-anchored 1H/4H)."""
    ts = bars["timestamp"]
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        local = ts.dt.tz_convert(NY).dt.tz_localize(None)
    else:
        local = ts
    day = local.dt.normalize()
    if tf in ("1H", "4H"):
        minutes = (local - day).dt.total_seconds() // 60 - (9 * 60 + 30)
        bucket = minutes // (60 if tf == "1H" else 240)
        return bars.groupby([day, bucket], sort=True)["close"].last().reset_index(drop=True)
    rule = {"1D": "D", "1W": "W", "1M": "ME"}[tf]
    return bars.set_index(local)["close"].resample(rule).last().dropna()


def spec_alignment_at(bars: pd.DataFrame, t: int, tfs: list[str]) -> list[float]:
    upto = bars.iloc[: t + 1]
    return [spec_bias(resample_closes(upto, tf)) for tf in tfs]


@pytest.mark.parametrize("symbol", ["AAPL", "KO", "AMD"])
def test_daily_matches_spec_function(shared_data, symbol):
    bars = pd.read_parquet(shared_data / "daily" / f"{symbol}.parquet")
    ours, info = mtf_features(bars, timeframe="1D")
    rng = np.random.default_rng(11)
    ts = sorted(rng.integers(30, len(bars), size=60).tolist())
    tfs = ["1M", "1W", "1D"]
    got = ours[[f"mtf_{t}" for t in tfs]].to_numpy()[ts]
    ref = np.array([spec_alignment_at(bars, t, tfs) for t in ts])
    np.testing.assert_array_equal(got, ref)
    assert info.available == {"1M": True, "1W": True, "1D": True, "4H": False, "1H": False}
    assert (ours[["mtf_4H", "mtf_1H"]] == 0).all().all()
    assert len(set(ref[:, 0])) > 1  # not a constant column


def test_hourly_matches_spec_function_on_all_five(shared_data):
    bars = pd.read_parquet(shared_data / "hourly" / "AMZN.parquet")
    ours, info = mtf_features(bars)
    assert all(info.available.values())
    rng = np.random.default_rng(5)
    ts = sorted(rng.integers(200, len(bars), size=40).tolist())
    tfs = ["1M", "1W", "1D", "4H", "1H"]
    got = ours[[f"mtf_{t}" for t in tfs]].to_numpy()[ts]
    ref = np.array([spec_alignment_at(bars, t, tfs) for t in ts])
    np.testing.assert_array_equal(got, ref)


def test_daily_with_intraday_uses_state_at_the_close(shared_data):
    daily = pd.read_parquet(shared_data / "daily_recent" / "GOOGL.parquet")
    hourly = pd.read_parquet(shared_data / "hourly" / "GOOGL.parquet")
    ours, info = mtf_features(daily, timeframe="1D", intraday=hourly)
    assert info.source["4H"] == "intraday"
    assert info.coverage["1H"][0].startswith("2023-07-26")
    hourly_own, _ = mtf_features(hourly)
    day = hourly["timestamp"].dt.tz_convert(NY).dt.tz_localize(None).dt.normalize()
    last_of_day = hourly_own.groupby(day.to_numpy()).tail(1)
    at_close = pd.Series(last_of_day["mtf_1H"].to_numpy(), index=day[last_of_day.index])
    joined = daily.set_index("timestamp").join(at_close.rename("ref"), how="inner")
    ours_i = ours.set_index(daily["timestamp"]).loc[joined.index, "mtf_1H"]
    np.testing.assert_array_equal(ours_i.to_numpy(), joined["ref"].to_numpy())
    before = daily["timestamp"] < pd.Timestamp("2023-07-26")
    assert (ours.loc[before, ["mtf_4H", "mtf_1H"]] == 0).all().all()


def _pandas_partial_ema(close: np.ndarray, run: np.ndarray, span: int) -> np.ndarray:
    """The definition, one bar at a time: pandas' ewm over the completed higher-timeframe
    closes (each run's last close) followed by close_t as the open bar."""
    out = np.empty_like(close)
    for t in range(len(close)):
        done = [close[np.nonzero(run == j)[0][-1]] for j in range(run[t])]
        out[t] = pd.Series([*done, close[t]]).ewm(span=span, adjust=True).mean().iloc[-1]
    return out


def test_partial_ema_matches_pandas_ewm_per_row():
    from tradeformer.features.mtf import partial_ema, run_index

    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (4, 90)), axis=1))
    keys = np.cumsum(rng.random((4, 90)) < 0.3, axis=1)  # ragged runs per row
    keys[1] = np.arange(90)  # every bar its own run (same timeframe as the base)
    runs = run_index(keys)
    got = partial_ema(close, runs, 9)
    for s in range(4):
        np.testing.assert_allclose(got[s], _pandas_partial_ema(close[s], runs[s], 9), rtol=1e-12)
    np.testing.assert_allclose(partial_ema(close[2], runs[2], 21),
                               _pandas_partial_ema(close[2], runs[2], 21), rtol=1e-12)  # fmt: skip
