"""Benchmark: the 29 classical columns on ../shared/data, each family against a reference.

- TA block vs the bare TA-Lib calls it is built on (our overhead), all 100 daily symbols.
- SMC vs the bar-by-bar loop of the spec's definitions (tests/features/smc_reference.py) and
  MTF vs the spec's `compute_mtf_alignment` re-run on the bars up to each t
  (tests/features/test_mtf.py); the loops are timed on a slice and compared per bar.
- The whole build (store -> 100 feature tables, 2 worker processes), against a 5 s target.
Usage: python benchmarks/features.py [path/to/shared/data]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import talib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.features.smc_reference import smc_reference  # noqa: E402
from tests.features.test_mtf import spec_alignment_at  # noqa: E402

from tradeformer.data import BarStore  # noqa: E402
from tradeformer.features import (  # noqa: E402
    build_features,
    mtf_features,
    smc_features,
    technical_features,
)
from tradeformer.features.technical import (  # noqa: E402
    TechnicalParams,
    technical_arrays,
)


def timed(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bare_talib(bars: pd.DataFrame) -> None:
    h, lo, c, v = (
        np.ascontiguousarray(bars[k].to_numpy(float)) for k in ("high", "low", "close", "volume")
    )
    talib.RSI(c, 14)
    talib.MACD(c, 12, 26, 9)
    talib.ATR(h, lo, c, 14)
    talib.BBANDS(c, 20, 2, 2, 0)
    talib.ADX(h, lo, c, 14)
    talib.OBV(c, v)
    talib.EMA(c, 9)
    talib.EMA(c, 21)
    talib.SMA(v, 20)


def main(data: Path) -> None:
    daily = {p.stem: pd.read_parquet(p) for p in sorted((data / "daily").glob("*.parquet"))}
    hourly = {p.stem: pd.read_parquet(p) for p in sorted((data / "hourly").glob("*.parquet"))}
    n_bars = sum(len(b) for b in daily.values())
    print(f"daily: {len(daily)} symbols, {n_bars:,} bars; hourly: {len(hourly)} symbols")

    params = TechnicalParams()

    def ta_block(b: pd.DataFrame) -> dict:
        h, lo, c, v = (
            np.ascontiguousarray(b[k].to_numpy(float)) for k in ("high", "low", "close", "volume")
        )
        return technical_arrays(h, lo, c, v, params)

    t_ta = timed(lambda: [ta_block(b) for b in daily.values()], repeat=5)
    t_ta_df = timed(lambda: [technical_features(b) for b in daily.values()])
    t_bare = timed(lambda: [bare_talib(b) for b in daily.values()], repeat=5)
    print(
        f"TA block          {t_ta:7.3f} s   bare TA-Lib calls {t_bare:7.3f} s   "
        f"ratio {t_ta / t_bare:5.2f}x (target <= 1.5x); as a DataFrame {t_ta_df:.3f} s"
    )

    t_smc = timed(lambda: [smc_features(b) for b in daily.values()])
    sl = daily["AAPL"].iloc[-2000:].reset_index(drop=True)
    t_ref = timed(lambda: smc_reference(sl), repeat=1)
    per_bar_ours, per_bar_ref = t_smc / n_bars, t_ref / len(sl)
    print(
        f"SMC               {t_smc:7.3f} s   loop reference {per_bar_ref * 1e6:8.1f} us/bar   "
        f"speed-up {per_bar_ref / per_bar_ours:8.0f}x (target >= 50x)"
    )

    mtf_features(daily["AAPL"], timeframe="1D")  # warm the calendar cache
    t_mtf = timed(lambda: [mtf_features(b, timeframe="1D") for b in daily.values()])
    t_mtf_h = timed(lambda: [mtf_features(b, timeframe="1H") for b in hourly.values()])
    n_h = sum(len(b) for b in hourly.values())
    bars = daily["AAPL"]
    pts = range(len(bars) - 200, len(bars))
    t_spec = timed(lambda: [spec_alignment_at(bars, t, ["1M", "1W", "1D"]) for t in pts], 1)
    hb = hourly["AAPL"]
    hpts = range(len(hb) - 100, len(hb))
    tfs = ["1M", "1W", "1D", "4H", "1H"]
    t_spec_h = timed(lambda: [spec_alignment_at(hb, t, tfs) for t in hpts], 1)
    print(
        f"MTF daily         {t_mtf:7.3f} s   spec loop {t_spec / 200 * 1e6:8.0f} us/bar   "
        f"speed-up {(t_spec / 200) / (t_mtf / n_bars):8.0f}x (target >= 50x)"
    )
    print(
        f"MTF hourly (5 TF) {t_mtf_h:7.3f} s   spec loop {t_spec_h / 100 * 1e6:8.0f} us/bar   "
        f"speed-up {(t_spec_h / 100) / (t_mtf_h / n_h):8.0f}x"
    )

    with tempfile.TemporaryDirectory() as tmp:
        BarStore(Path(tmp) / "s").write(daily, "1D")
        build_features(Path(tmp) / "s", Path(tmp) / "warm", symbols=["AAPL"], progress=False)
        t0 = time.perf_counter()
        m = build_features(Path(tmp) / "s", Path(tmp) / "f", workers=2, progress=False)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_features(Path(tmp) / "s", Path(tmp) / "f", workers=2, progress=False)
        t_cached = time.perf_counter() - t0
    print(
        f"full build, 29 columns + labels, {len(m['symbols'])} symbols, 2 workers: "
        f"{t_build:.2f} s (target < 5 s); cached rerun {t_cached:.2f} s"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
