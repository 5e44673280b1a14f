"""Replay the live loop over history: at every month end of a year, issue the bundle's
signals as of that date (twice: the rerun must write nothing), score what is due by then,
and at the end render the live report; prints the wall time, the ledger's row count against
symbols x dates x horizons, duplicates, and how the issued scores match the bundle's one-shot
backtest (its run's test predictions) on the same rows.

    python benchmarks/live_replay.py runs/<id>/bundle|REGISTRY STORE [--year 2023]
        [--retrain-every 3] [--ledger F]

STORE: the bar store the bundle's run read (its data.json `store`) or any store holding
the bundle's universe through the year. Bars after each as-of date are never read
(`--until`); `tradeformer data import --as-of` builds a store that really ends there."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from tradeformer.live.ledger import KEY, Ledger
from tradeformer.live.record_report import backtest_match, render_live_report
from tradeformer.live.replay import replay


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path, help="a bundle, or a registry (then --retrain-every)")
    ap.add_argument("store", type=Path)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--retrain-every", type=int, default=0, help="months (registry only)")
    ap.add_argument("--ledger", default="runs/live_replay/ledger.db")
    ap.add_argument("--out", type=Path, default=Path("runs/live_replay/report"))
    a = ap.parse_args()
    Path(a.ledger).unlink(missing_ok=True)
    ledger = Ledger(a.ledger)
    month_ends = list(pd.date_range(f"{a.year}-01-01", f"{a.year}-12-31", freq="ME"))
    result = replay(a.bundle, a.store, ledger, month_ends, retrain_every=a.retrain_every)
    rows = ledger.read()
    page = render_live_report(rows, a.out)
    n_sym = rows.groupby("as_of")["symbol"].nunique().iloc[0]
    expected = n_sym * len(result.dates) * rows["horizon"].nunique()
    print(
        f"replay of {len(month_ends)} month ends in {result.seconds / 60:.1f} min; "
        f"{len(result.decisions)} retrains, {sum(d.promoted for d in result.decisions)} promoted"
    )
    print(
        f"ledger rows {len(rows):,} (symbols x dates x horizons = {expected:,}); "
        f"duplicate keys {int(rows.duplicated(list(KEY)).sum())}; "
        f"rows written by the reruns {result.reruns_written}"
    )
    scored = rows[rows["realized_return"].notna()].assign(date=lambda f: pd.to_datetime(f.as_of))
    for path, part in scored.groupby("bundle_path"):
        print(path)
        print(backtest_match(part, path).to_string(index=False))
    print(f"live report {page}")


if __name__ == "__main__":
    main()
