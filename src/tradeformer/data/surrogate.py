"""Stand-in universes built from the bundled real bars, for tests and benchmarks without
`../shared/data`.

`rotated_bars` re-bases and time-shifts one real series: its per-bar ratios (open and close
against the previous close, high and low against the close) and volumes are read from a
rotated start, re-stamped onto the requested sessions and chained from a new price level.
Every bar keeps a real bar's shape, so each stand-in symbol is a different, valid, real-looking
path; cross-symbol structure (sectors, a common market factor) is not reproduced.

`intraday_from_daily` splits each daily bar into hourly bars inside the session (a seeded
Brownian bridge from the open to the close, clipped to the day's range, that touches the day's
high and low). The intraday paths are synthetic; their daily aggregates equal the input bars.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.data.sample import SAMPLE_DIR, SAMPLE_SYMBOLS
from tradeformer.data.sessions import DEFAULT_CALENDAR, session_table

HOUR_NS = 3_600_000_000_000


def _sample_frames() -> list[pd.DataFrame]:
    return [pd.read_parquet(SAMPLE_DIR / f"{s}.parquet") for s in SAMPLE_SYMBOLS]


def sessions_between(start: str, end: str, calendar: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """Session dates (naive midnights) of `calendar` from `start` to `end`, inclusive."""
    days = pd.DatetimeIndex(session_table(calendar).day.astype("datetime64[ns]"))
    return days[(days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))]


def rotated_bars(
    base: pd.DataFrame, sessions: pd.DatetimeIndex, offset: int, level: float = 50.0
) -> pd.DataFrame:
    """`base`'s bars from row `offset` on (wrapping around), stamped on `sessions`, first close
    at `level`."""
    c = base["close"].to_numpy(float)
    prev = c[:-1]
    ratios = np.log(
        np.column_stack(
            [
                c[1:] / prev,
                base["open"].to_numpy(float)[1:] / prev,
                base["high"].to_numpy(float)[1:] / c[1:],
                base["low"].to_numpy(float)[1:] / c[1:],
            ]
        )
    )
    rows = (offset + np.arange(len(sessions))) % len(ratios)
    r_close, r_open, r_high, r_low = ratios[rows].T
    close = level * np.exp(np.cumsum(r_close) - r_close[0])
    opn = close / np.exp(r_close) * np.exp(r_open)
    body = np.column_stack([opn, close])  # open == high in the source stays so after rounding
    return pd.DataFrame(
        {
            "timestamp": sessions,
            "open": opn,
            "high": np.maximum(close * np.exp(r_high), body.max(axis=1)),
            "low": np.minimum(close * np.exp(r_low), body.min(axis=1)),
            "close": close,
            "adj_close": close * _dividend_factor(sessions),
            "volume": _positive(base["volume"])[1:][rows],
        }
    )


def _positive(volume: pd.Series) -> np.ndarray:
    """Volumes with the source's few zero-volume days filled from the day before."""
    return volume.mask(volume <= 0).ffill().bfill().to_numpy("int64")


def _dividend_factor(sessions: pd.DatetimeIndex, quarterly_yield: float = 0.005) -> np.ndarray:
    """Back-adjustment factor of a `quarterly_yield` dividend paid each quarter's first session."""
    quarter = sessions.year * 4 + (sessions.month - 1) // 3
    ex_date = np.r_[False, np.diff(quarter) != 0]
    later = ex_date[::-1].cumsum()[::-1] - ex_date
    return (1 - quarterly_yield) ** later


def stand_in_daily(
    symbols: Iterable[str], start: str = "2000-01-03", end: str = "2024-08-26", seed: int = 0
) -> dict[str, pd.DataFrame]:
    """One rotated real series per symbol on the XNYS sessions `start`..`end`."""
    frames = _sample_frames()
    sessions = sessions_between(start, end)
    rng = np.random.default_rng(seed)
    out = {}
    for k, sym in enumerate(symbols):
        base = frames[k % len(frames)]
        offset = int(rng.integers(0, len(base) - 1))
        out[sym] = rotated_bars(base, sessions, offset, level=float(rng.uniform(10, 200)))
    return out


def intraday_from_daily(
    daily: pd.DataFrame, seed: int = 0, calendar: str = DEFAULT_CALENDAR
) -> pd.DataFrame:
    """Hourly bars (start time, UTC) inside each daily bar's session whose open, high, low,
    close and total volume equal the daily bar's."""
    table = session_table(calendar)
    day_ns = daily["timestamp"].to_numpy("datetime64[ns]").view("int64")
    opens, closes, _ = table.bounds(day_ns)
    n_bars = np.ceil((closes - opens) / HOUR_NS).astype(int)
    width = int(n_bars.max())
    rng = np.random.default_rng(seed)
    o, h, lo, c = (daily[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    t = np.arange(width + 1) / n_bars[:, None]
    steps = rng.normal(size=(len(daily), width + 1)) * np.log(h / lo)[:, None] / 2
    walk = np.cumsum(steps, axis=1) - steps[:, :1]
    bridge = walk - t * np.take_along_axis(walk, n_bars[:, None], axis=1)
    path = np.exp(np.log(o)[:, None] + t * np.log(c / o)[:, None] + bridge)
    path = np.clip(path, lo[:, None], h[:, None])
    path[np.arange(len(daily)), n_bars] = c
    bar_open, bar_close = path[:, :-1], path[:, 1:]
    bar_high = np.maximum(bar_open, bar_close)
    bar_low = np.minimum(bar_open, bar_close)
    valid = np.arange(width)[None, :] < n_bars[:, None]
    rows = np.arange(len(daily))
    hi_bar = np.where(valid, bar_high, -np.inf).argmax(axis=1)
    lo_bar = np.where(valid, -bar_low, -np.inf).argmax(axis=1)
    bar_high[rows, hi_bar], bar_low[rows, lo_bar] = h, lo
    share = np.where(valid, rng.gamma(2.0, size=valid.shape), 0.0)
    volume = daily["volume"].to_numpy(float)[:, None] * share / share.sum(axis=1, keepdims=True)
    start = opens[:, None] + np.arange(width)[None, :] * HOUR_NS
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(start[valid]).tz_localize("UTC"),
            "open": bar_open[valid],
            "high": bar_high[valid],
            "low": bar_low[valid],
            "close": bar_close[valid],
            "volume": np.round(volume[valid]).astype("int64"),
        }
    )


LAYOUT = {
    "daily": ("2000-01-03", "2024-08-26"),
    "daily_recent": ("2021-06-01", "2026-05-29"),
    "index": ("1999-01-04", "2018-12-31"),
}
HOURLY_START = "2023-07-26"


def write_stand_in_tree(
    root: Path,
    daily: Iterable[str],
    daily_recent: Iterable[str] = (),
    hourly: Iterable[str] = (),
    seed: int = 0,
    no_volume: Iterable[str] = ("SPX500", "NAS100", "US30"),
) -> Path:
    """A folder laid out like `../shared/data` (daily/, daily_recent/, hourly/, index/) with
    stand-in bars for the named symbols; `index/` holds the bundled GSPC and IXIC as they are.
    Hourly bars are split from the symbol's `daily_recent` bars from 2023-07-26 on; those of
    `no_volume` (index CFDs in the real set) have volume 0."""
    root = Path(root)
    recent = set(daily_recent) | set(hourly)
    parts = {
        "daily": stand_in_daily(daily, *LAYOUT["daily"], seed=seed),
        "daily_recent": stand_in_daily(sorted(recent), *LAYOUT["daily_recent"], seed=seed + 1),
    }
    for folder, frames in parts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        keep = set(daily_recent) if folder == "daily_recent" else set(frames)
        for sym, frame in frames.items():
            if sym in keep:
                frame.to_parquet(root / folder / f"{sym}.parquet", index=False)
    (root / "hourly").mkdir(exist_ok=True)
    for k, sym in enumerate(sorted(set(hourly))):
        bars = parts["daily_recent"][sym]
        bars = bars[bars["timestamp"] >= HOURLY_START].reset_index(drop=True)
        hours = intraday_from_daily(bars, seed=seed + k)
        if sym in set(no_volume):
            hours["volume"] = 0
        hours.to_parquet(root / "hourly" / f"{sym}.parquet", index=False)
    (root / "index").mkdir(exist_ok=True)
    for sym in ("GSPC", "IXIC"):
        frame = pd.read_parquet(SAMPLE_DIR / f"{sym}.parquet")
        frame.to_parquet(root / "index" / f"{sym}.parquet", index=False)
    return root
