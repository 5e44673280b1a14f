"""The signal job: every symbol of a bundle's universe predicted at the latest complete bar
(at or before `until`), one ledger row per (as-of bar, symbol, horizon, bundle id). A store
that is behind (a universe symbol missing, or whose last bar is older than the as-of bar) is
refused with the symbols and their dates: no signal is computed from stale bars."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.bundle import weights_hash
from tradeformer.data.store import BarStore
from tradeformer.errors import DataError, NotFoundError
from tradeformer.inference.predictor import Predictor, _listed
from tradeformer.live.ledger import Ledger
from tradeformer.training.ensemble import ensemble_return

log = logging.getLogger(__name__)


@dataclass
class SignalRun:
    as_of: pd.Timestamp
    bundle_id: str
    n_symbols: int
    inserted: int
    already: int  # rows this run would have written that the ledger already held


def bundle_id(bundle_dir: str | Path) -> str:
    return weights_hash(Path(bundle_dir))[:16]


def universe(predictor: Predictor, store: BarStore, tf: str) -> list[str]:
    """The symbols a run signals: a cross-sectional bundle's training universe (every one
    required), else every store symbol."""
    if predictor.cross_sectional:
        return sorted(predictor.universe)
    return sorted(store.manifest["entries"][tf])


def read_bars(store: BarStore, tf: str, symbols: list[str], until) -> dict[str, pd.DataFrame]:
    """Each symbol's bars at or before `until` (all of them without; None: not in store)."""
    entries = store.manifest["entries"][tf]
    out: dict[str, pd.DataFrame | None] = {}
    for s in symbols:
        if s not in entries:
            out[s] = None
            continue
        frame = pd.read_parquet(store.root / entries[s]["file"])
        out[s] = frame if until is None else frame[frame["timestamp"] <= until]
    return out


def last_bars(bars: dict[str, pd.DataFrame | None]) -> dict[str, pd.Timestamp]:
    return {
        s: (f["timestamp"].iloc[-1] if f is not None and len(f) else pd.NaT)
        for s, f in bars.items()
    }


def as_of_bar(last: dict[str, pd.Timestamp], where: str) -> pd.Timestamp:
    """The latest bar every symbol has; refuses a store in which some symbols are missing or
    stop earlier (the message names them and their last bars)."""
    missing = [s for s, t in last.items() if pd.isna(t)]
    if missing:
        raise NotFoundError(f"{where} lacks universe symbol(s) {_listed(missing)}")
    latest = max(last.values())
    stale = {s: t for s, t in last.items() if t < latest}
    if stale:
        shown = ", ".join(f"{s} (last {t.date()})" for s, t in list(stale.items())[:10])
        more = f" ... ({len(stale)} in all)" if len(stale) > 10 else ""
        raise DataError(
            f"{where} is behind for {len(stale)} of {len(last)} symbols at {latest.date()}: "
            f"{shown}{more}; update them (signals --download, or data import) or pass "
            "--until an earlier date: no signal is written from stale bars"
        )
    return latest


def bars_fingerprint(bars: dict[str, pd.DataFrame]) -> str:
    """A hash of the bars the signals were computed from (every symbol's rows up to the
    as-of bar): unchanged by bars appended later, changed by any revision of those rows."""
    h = hashlib.sha256()
    for s in sorted(bars):
        h.update(s.encode())
        h.update(pd.util.hash_pandas_object(bars[s], index=False).to_numpy().tobytes())
    return h.hexdigest()[:32]


def horizon_rows(predictor: Predictor, out: pd.DataFrame, h: int) -> pd.DataFrame:
    """The ensemble at horizon h for every symbol (the members combined as the bundle
    combines them at its own horizon; the veto gate is the bundle's)."""
    tag = "score" if predictor.cross_sectional else "ret"
    members = {m: out[f"{m}_{tag}_{h}"].to_numpy(float) for m in predictor.bundle.members}
    score = ensemble_return(members, predictor.ensemble, np.zeros(len(out), dtype=int))
    veto = out["veto_prob"].to_numpy(float)
    take = veto >= predictor.threshold
    return pd.DataFrame(
        {
            "symbol": out["symbol"].to_numpy(),
            "horizon": h,
            "action": np.where(take, np.where(score > 0, "BUY", "SELL"), "HOLD"),
            "score": score,
            "score_kind": "cs_rank" if predictor.cross_sectional else "return",
            "expected_return": np.nan if predictor.cross_sectional else score,
            "confidence": np.where(take, veto, 0.0),
            "veto_prob": veto,
            "decision_horizon": predictor.ensemble.horizon,
        }
    )


def issue_signals(
    predictor: Predictor,
    bundle_dir: str | Path,
    store_dir: str | Path,
    ledger: Ledger,
    *,
    until: pd.Timestamp | None = None,
    timeframe: str | None = None,
) -> SignalRun:
    """Predict the universe at its latest complete bar (<= until) and append the signals."""
    store = BarStore(store_dir)
    tf = timeframe or store.default_timeframe()
    if tf not in store.manifest["entries"]:
        raise NotFoundError(f"timeframe {tf!r} not in {store_dir}")
    symbols = universe(predictor, store, tf)
    bars = read_bars(store, tf, symbols, until)
    as_of = as_of_bar(last_bars(bars), str(store_dir))
    out = predictor.predict_store(store_dir, symbols, tf, until=as_of)
    bid = bundle_id(bundle_dir)
    close = {s: float(f["close"].iloc[-1]) for s, f in bars.items()}
    rows = pd.concat([horizon_rows(predictor, out, h) for h in predictor.horizons])
    rows = rows.assign(
        as_of=as_of.isoformat(),
        bundle_id=bid,
        data_fingerprint=bars_fingerprint(bars),
        bundle_path=str(Path(bundle_dir).resolve()),
        issued_at=pd.Timestamp.now(tz="UTC").isoformat(),
        close=rows["symbol"].map(close),
    )
    inserted, already = ledger.append(rows)
    log.info("%s: %d signals written, %d already in the ledger", as_of.date(), inserted, already)
    return SignalRun(as_of, bid, len(symbols), inserted, already)
