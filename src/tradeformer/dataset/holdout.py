"""Names set aside before any training or choice: a stable hash of (seed, symbol) decides, so
the same symbol is held out whatever else the universe holds (adding names never moves one in
or out), and the choice depends on nothing the data says."""

from __future__ import annotations

import hashlib


def held_out(symbol: str, fraction: float, seed: int = 0) -> bool:
    """True when `symbol` falls in the held-out share (its hash's uniform draw < fraction)."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{symbol.upper()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def split_holdout(
    symbols: list[str], fraction: float, seed: int = 0
) -> tuple[list[str], list[str]]:
    """(the symbols to train on, the held-out ones), each in the input's order."""
    out = [s for s in symbols if held_out(s, fraction, seed)]
    return [s for s in symbols if s not in set(out)], out
