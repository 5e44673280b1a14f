"""What a bar store holds, as one JSON-ready summary (`tradeformer data info`)."""

from __future__ import annotations

import pyarrow.parquet as pq

from tradeformer.data.store import BarStore


def _last_complete(store: BarStore, file: str) -> bool | None:
    """The `complete` flag of a derived file's last bar (None for base bars, which have none)."""
    path = store.root / file
    schema = pq.read_schema(path)
    if "complete" not in schema.names:
        return None
    col = pq.read_table(path, columns=["complete"]).column(0)
    return bool(col[len(col) - 1].as_py()) if len(col) else None


def store_info(store: BarStore) -> dict:
    """Per timeframe: symbols, bars, first and last bar, symbols whose last bar is incomplete
    (a month or week the data does not cover yet); per symbol its entries; the import's
    source, adjustment, repairs and warnings."""
    m = store.manifest
    meta = m.get("meta", {})
    timeframes, symbols = {}, {}
    for tf, entries in m["entries"].items():
        incomplete = []
        for sym, e in sorted(entries.items()):
            last_ok = _last_complete(store, e["file"])
            if last_ok is False:
                incomplete.append(sym)
            symbols.setdefault(sym, {})[tf] = {
                "rows": e["rows"],
                "start": e["start"],
                "end": e["end"],
                "last_bar_complete": last_ok,
            }
        starts = [e["start"] for e in entries.values() if e["start"]]
        ends = [e["end"] for e in entries.values() if e["end"]]
        timeframes[tf] = {
            "symbols": len(entries),
            "bars": int(sum(e["rows"] for e in entries.values())),
            "first": min(starts) if starts else None,
            "last": max(ends) if ends else None,
            "incomplete_last_bar": incomplete,
        }
    validation = meta.get("validation", {})
    return {
        "store": str(store.root),
        "base_timeframe": store.default_timeframe(),
        "source": meta.get("source"),
        "adjusted": meta.get("adjusted"),
        "updated_at": m.get("updated_at"),
        "timeframes": timeframes,
        "repairs": validation.get("repairs", []),
        "warnings": validation.get("warnings", []),
        "symbols": symbols,
    }
