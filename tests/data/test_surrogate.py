"""Stand-in bars (the self-contained test tier's data): valid, distinct, and consistent."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeformer.data import load_bars, load_sample, resample
from tradeformer.data.surrogate import intraday_from_daily, rotated_bars, stand_in_daily


def test_stand_ins_are_valid_distinct_daily_bars(tmp_path):
    frames = stand_in_daily(["A", "B", "C", "D"])
    for sym, f in frames.items():
        f.to_parquet(tmp_path / f"{sym}.parquet", index=False)
    loaded = load_bars(tmp_path)
    assert loaded.report.errors == [] and set(loaded.timeframes.values()) == {"1D"}
    rets = pd.DataFrame({s: np.log(f["close"]).diff() for s, f in frames.items()})
    assert rets.corr().where(~np.eye(4, dtype=bool)).abs().max().max() < 0.2  # not copies
    assert (frames["A"]["adj_close"] <= frames["A"]["close"] + 1e-9).all()


def test_rotation_keeps_each_bars_shape():
    base = load_sample().bars["MSFT"]
    sessions = pd.DatetimeIndex(base["timestamp"].iloc[1:101])
    out = rotated_bars(base, sessions, offset=500, level=10.0)
    src = base.iloc[501:601].reset_index(drop=True)
    np.testing.assert_allclose(out["high"] / out["close"], src["high"] / src["close"], rtol=1e-9)
    np.testing.assert_allclose(
        (out["close"] / out["close"].shift()).iloc[1:],
        (src["close"] / src["close"].shift()).iloc[1:],
        rtol=1e-9,
    )
    assert out["close"].iloc[0] == 10.0


def test_intraday_bars_aggregate_to_the_daily_bar(tmp_path):
    daily = stand_in_daily(["A"], "2024-01-02", "2024-12-31")["A"].drop(columns="adj_close")
    hourly = intraday_from_daily(daily, seed=3)
    hourly.to_parquet(tmp_path / "A.parquet", index=False)
    loaded = load_bars(tmp_path)
    assert loaded.timeframes["A"] == "1H"
    back = resample(loaded.bars["A"], "1D")
    back = back[back["timestamp"].isin(daily["timestamp"])].reset_index(drop=True)
    for col in ("open", "high", "low", "close"):
        np.testing.assert_allclose(back[col], daily[col], rtol=1e-12, err_msg=col)
    np.testing.assert_allclose(back["volume"], daily["volume"], rtol=1e-6)
    half_day = hourly[hourly["timestamp"].dt.strftime("%Y-%m-%d") == "2024-11-29"]
    assert half_day["timestamp"].max() < pd.Timestamp("2024-11-29 18:00", tz="UTC")
