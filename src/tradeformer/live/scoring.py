"""Outcomes: each signal's realised forward return once its horizon has passed in the store,
computed as the training labels are (`labels.forward_returns`: log or simple, close to close
h bars later)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from tradeformer.data.store import BarStore
from tradeformer.live.ledger import Ledger

log = logging.getLogger(__name__)


def outcomes(
    pending: pd.DataFrame, store: BarStore, tf: str, kind: str = "log", until=None
) -> pd.DataFrame:
    """The pending signals whose horizon has passed (by `until`, when given), with
    realized_return and realized_at."""
    entries = store.manifest["entries"][tf]
    parts = []
    for symbol, rows in pending.groupby("symbol", sort=False):
        if symbol not in entries:
            log.warning("%s: not in the store; its %d signal(s) stay unscored", symbol, len(rows))
            continue
        bars = pd.read_parquet(store.root / entries[symbol]["file"], columns=["timestamp", "close"])
        if until is not None:
            bars = bars[bars["timestamp"] <= until]
        ts = bars["timestamp"].to_numpy()
        close = bars["close"].to_numpy(float)
        at = pd.to_datetime(rows["as_of"]).to_numpy().astype(ts.dtype)
        i = np.searchsorted(ts, at)
        found = (i < len(ts)) & (ts[np.minimum(i, len(ts) - 1)] == at)
        j = i + rows["horizon"].to_numpy()
        done = found & (j < len(ts))
        if (~found).any():
            n = int((~found).sum())
            log.warning("%s: %d signal(s) whose as-of bar is not in the store", symbol, n)
        if not done.any():
            continue
        ratio = close[j[done]] / close[i[done]]
        part = rows.loc[done].copy()
        part["realized_return"] = np.log(ratio) if kind == "log" else ratio - 1.0
        part["realized_at"] = pd.DatetimeIndex(ts[j[done]]).map(pd.Timestamp.isoformat)
        parts.append(part)
    if not parts:
        return pending.iloc[:0].assign(realized_return=[], realized_at=[])
    return pd.concat(parts)


def score_ledger(
    ledger: Ledger, store_dir, timeframe: str | None = None, kind: str = "log", until=None
) -> dict:
    """Fill the outcome of every pending signal whose horizon has passed; returns counts."""
    store = BarStore(store_dir)
    tf = timeframe or store.default_timeframe()
    pending = ledger.read(pending=True)
    done = outcomes(pending, store, tf, kind, until) if len(pending) else pending
    filled = ledger.fill_outcomes(done)
    return {"pending": len(pending), "filled": filled, "still_pending": len(pending) - filled}
