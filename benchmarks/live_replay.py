"""Replay the live loop over history: at every month end of a year, issue the bundle's
signals as of that date (twice: the rerun must write nothing), score what is due by then,
and at the end render the live report; prints the wall time, the ledger's row count against
symbols x dates x horizons, duplicates, and how the issued scores match the bundle's one-shot
backtest (its run's test predictions) on the same rows.

    python benchmarks/live_replay.py runs/<id>/bundle STORE [--year 2023] [--ledger F]

STORE: the bar store the bundle's run read (its data.json `store`) or any store holding
the bundle's universe through the year. Bars after each as-of date are never read
(`--until`); `tradeformer data import --as-of` builds a store that really ends there."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from tradeformer.inference.predictor import Predictor
from tradeformer.live.ledger import KEY, Ledger
from tradeformer.live.record_report import backtest_match, render_live_report
from tradeformer.live.scoring import score_ledger
from tradeformer.live.signals import issue_signals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("store", type=Path)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--ledger", default="runs/live_replay/ledger.db")
    ap.add_argument("--out", type=Path, default=Path("runs/live_replay/report"))
    a = ap.parse_args()
    Path(a.ledger).unlink(missing_ok=True)
    t0 = time.perf_counter()
    predictor = Predictor.load(a.bundle)
    ledger = Ledger(a.ledger)
    month_ends = pd.date_range(f"{a.year}-01-01", f"{a.year}-12-31", freq="ME")
    for until in month_ends:
        first = issue_signals(predictor, a.bundle, a.store, ledger, until=until)
        again = issue_signals(predictor, a.bundle, a.store, ledger, until=until)
        counts = score_ledger(ledger, a.store, until=until)
        print(
            f"{first.as_of.date()}: {first.inserted} written, rerun {again.inserted} written "
            f"/ {again.already} already there; scored {counts['filled']}",
            flush=True,
        )
    rows = ledger.read()
    page = render_live_report(rows, a.out)
    seconds = time.perf_counter() - t0
    expected = first.n_symbols * len(month_ends) * len(predictor.horizons)
    print(f"replay of {len(month_ends)} month ends in {seconds / 60:.1f} min")
    print(f"ledger rows {len(rows):,} (symbols x dates x horizons = {expected:,}); "
          f"duplicate keys {int(rows.duplicated(list(KEY)).sum())}")  # fmt: skip
    scored = rows[rows["realized_return"].notna()].assign(date=lambda f: pd.to_datetime(f.as_of))
    print(backtest_match(scored, str(a.bundle.resolve())).to_string(index=False))
    print(f"live report {page}")


if __name__ == "__main__":
    main()
