"""Rebuild the bundled sample (src/tradeformer/data/sample_data) from data shipped in PyPI packages.

Run once by maintainers: `pip install -e ".[sample]" && python scripts/build_sample.py`.
Sources (all real Yahoo Finance daily bars redistributed inside those packages):
  GSPC  -- S&P 500 index, 1999-2018, `arch.data.sp500`
  IXIC  -- NASDAQ Composite, 1999-2018, `arch.data.nasdaq`
  MSFT  -- Microsoft, 1986-2017, `pmdarima.datasets.load_msft` (no adjusted close)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "src" / "tradeformer" / "data" / "sample_data"


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns=lambda c: c.strip().lower().replace(" ", "_"))
    if "date" in df.columns:
        df = df.rename(columns={"date": "timestamp"})
    df["timestamp"] = pd.to_datetime(df["timestamp"]).astype("datetime64[ns]")
    cols = ["timestamp", "open", "high", "low", "close"]
    cols += ["adj_close"] if "adj_close" in df.columns else []
    cols += ["volume"]
    out = df[cols].copy()
    out["volume"] = out["volume"].astype("int64")
    return out.sort_values("timestamp").reset_index(drop=True)


def main() -> None:
    import arch.data.nasdaq
    import arch.data.sp500
    import pmdarima.datasets

    OUT.mkdir(parents=True, exist_ok=True)
    frames = {
        "GSPC": _frame(arch.data.sp500.load().reset_index()),
        "IXIC": _frame(arch.data.nasdaq.load().reset_index()),
        "MSFT": _frame(pmdarima.datasets.load_msft()),
    }
    for sym, df in frames.items():
        df.to_parquet(OUT / f"{sym}.parquet", index=False, compression="zstd")
        print(sym, len(df), df["timestamp"].min().date(), df["timestamp"].max().date())


if __name__ == "__main__":
    main()
