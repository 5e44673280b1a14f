"""Causality: features at bars <= t never change when the bars after t change or disappear.

For many cut points t on real data, (a) recompute on bars truncated at t, (b) recompute on bars
whose future is replaced by another symbol's real prices (rescaled to continue at close_t).
Every column at <= t must be bit-identical (NaN == NaN). This is the project's central test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.features import (
    CLASSICAL_COLUMNS,
    classical_features,
    mtf_features,
    smc_features,
    technical_features,
)
from tradeformer.labels import forward_returns

PRICE = ["open", "high", "low", "close"]


def splice_future(bars: pd.DataFrame, donor: pd.DataFrame, t: int) -> pd.DataFrame:
    """Bars <= t unchanged; after t, the donor's real bars rescaled to continue at close_t."""
    n_after = len(bars) - t - 1
    if n_after <= 0:
        return bars.copy()
    start = len(donor) - n_after - 1
    d = donor.iloc[start:].reset_index(drop=True)
    scale = bars["close"].iloc[t] / d["close"].iloc[0]
    out = bars.copy()
    for col in PRICE:
        out.loc[t + 1 :, col] = d[col].iloc[1:].to_numpy() * scale
    out.loc[t + 1 :, "volume"] = d["volume"].iloc[1:].to_numpy()
    return out


def cut_points(n: int, k: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    fixed = [0, 1, 2, 25, 40, 119, 120, n // 2, n - 12, n - 2]
    return sorted({*fixed, *rng.integers(0, n - 1, size=k).tolist()})


def assert_prefix_identical(full: pd.DataFrame, part: pd.DataFrame, t: int, label: str) -> None:
    a = full.iloc[: t + 1].to_numpy(dtype="float64")
    b = part.iloc[: t + 1].to_numpy(dtype="float64")
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if not same.all():
        rows, cols = np.nonzero(~same)
        col = full.columns[cols[0]]
        raise AssertionError(
            f"{label}: t={t}: column {col!r} differs at bar {rows[0]} "
            f"({a[rows[0], cols[0]]!r} vs {b[rows[0], cols[0]]!r}); "
            f"{len(set(cols.tolist()))} column(s) affected"
        )


FAMILIES = {
    "technical": lambda bars, **kw: technical_features(bars),
    "smc": lambda bars, **kw: smc_features(bars),
    "mtf": lambda bars, **kw: mtf_features(bars, **kw)[0],
}


@pytest.fixture(scope="module")
def daily_cases(shared_data):
    out = {}
    for sym, donor in (("AAPL", "XOM"), ("CHTR", "AMD"), ("JPM", "NVDA")):
        bars = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        out[sym] = (bars, pd.read_parquet(shared_data / "daily" / f"{donor}.parquet"))
    return out


@pytest.mark.parametrize("family", list(FAMILIES))
def test_daily_families_are_causal(daily_cases, family):
    fn = FAMILIES[family]
    for sym, (bars, donor) in daily_cases.items():
        full = fn(bars, timeframe="1D")
        for t in cut_points(len(bars), 20, seed=len(sym)):
            assert_prefix_identical(
                full, fn(bars.iloc[: t + 1], timeframe="1D"), t, f"{family}/{sym}/truncated"
            )
            spliced = splice_future(bars, donor, t)
            assert_prefix_identical(full, fn(spliced, timeframe="1D"), t, f"{family}/{sym}/spliced")


def test_hourly_all_columns_causal(shared_data):
    bars = pd.read_parquet(shared_data / "hourly" / "NVDA.parquet")
    donor = pd.read_parquet(shared_data / "hourly" / "INTC.parquet")
    full, _ = classical_features(bars, timeframe="1H")
    cols = list(CLASSICAL_COLUMNS)
    for t in cut_points(len(bars), 25, seed=7):
        part, _ = classical_features(bars.iloc[: t + 1], timeframe="1H")
        assert_prefix_identical(full[cols], part[cols], t, "hourly/truncated")
        sp, _ = classical_features(splice_future(bars, donor, t), timeframe="1H")
        assert_prefix_identical(full[cols], sp[cols], t, "hourly/spliced")


def test_daily_with_intraday_mtf_causal(shared_data):
    """Daily bars whose MTF 4H/1H come from hourly bars: cut both at the same instant."""
    daily = pd.read_parquet(shared_data / "daily_recent" / "MSFT.parquet")
    hourly = pd.read_parquet(shared_data / "hourly" / "MSFT.parquet")
    full, info = mtf_features(daily, timeframe="1D", intraday=hourly)
    assert info.available["4H"]
    assert info.available["1H"]
    local_day = hourly["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    local_day = local_day.dt.normalize()
    rng = np.random.default_rng(3)
    start = int(np.searchsorted(daily["timestamp"], hourly["timestamp"].iloc[0].tz_localize(None)))
    for t in sorted(rng.integers(start, len(daily) - 1, size=25).tolist()):
        day = daily["timestamp"].iloc[t]
        h_cut = hourly[local_day <= day]
        part, _ = mtf_features(daily.iloc[: t + 1], timeframe="1D", intraday=h_cut)
        assert_prefix_identical(full, part, t, "daily+intraday/truncated")


def test_daily_bar_does_not_see_its_own_session_intraday_future(shared_data):
    """A daily bar's 1H state is the one at its close: dropping later sessions changes nothing,
    and dropping the *last hour of that same day* must change it (it is genuinely used)."""
    daily = pd.read_parquet(shared_data / "daily_recent" / "AAPL.parquet")
    hourly = pd.read_parquet(shared_data / "hourly" / "AAPL.parquet")
    full, _ = mtf_features(daily, timeframe="1D", intraday=hourly)
    local = hourly["timestamp"].dt.tz_convert("America/New_York")
    last_hour = (local.dt.strftime("%H:%M") == "15:30") & (local.dt.strftime("%Y") == "2024")
    reduced, _ = mtf_features(daily, timeframe="1D", intraday=hourly[~last_hour])
    changed = (full["mtf_1H"] != reduced["mtf_1H"]).sum()
    assert changed > 0


def test_labels_only_see_their_horizon(daily_cases):
    bars, donor = daily_cases["AAPL"]
    full = forward_returns(bars["close"])
    for t in cut_points(len(bars), 20, seed=1):
        # bars after t + 10 may change: labels at <= t must not
        spliced = splice_future(bars, donor, min(t + 10, len(bars) - 1))
        assert_prefix_identical(full, forward_returns(spliced["close"]), t, "labels")
