"""Plain-Python, bar-by-bar reference of the 12 SMC columns, written from the spec's loops.

Slow on purpose (a loop over bars with an inner loop over zones): it is the independent
definition the vectorised `tradeformer.features.smc` is checked and benchmarked against.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import talib

from tradeformer.features.columns import SMC_COLUMNS
from tradeformer.features.smc import SMCParams


def smc_reference(bars: pd.DataFrame, p: SMCParams | None = None) -> pd.DataFrame:
    p = p or SMCParams()
    o, h, lo, c = (bars[k].astype(float).tolist() for k in ("open", "high", "low", "close"))
    n = len(c)
    atr = talib.ATR(np.array(h), np.array(lo), np.array(c), p.atr).tolist()

    # events from the spec's loops, each placed on the bar where it becomes known
    obs, fvgs = [], []  # (known_at, bottom, top, +1/-1)
    for i in range(n - 1):
        if c[i + 1] > h[i] * (1 + p.ob_threshold) and c[i] < o[i]:
            obs.append((i + 1, lo[i], o[i], 1))
        if c[i + 1] < lo[i] * (1 - p.ob_threshold) and c[i] > o[i]:
            obs.append((i + 1, c[i], h[i], -1))
    for i in range(1, n - 1):
        if lo[i + 1] > h[i - 1]:
            fvgs.append((i + 1, h[i - 1], lo[i + 1], 1))
        if h[i + 1] < lo[i - 1]:
            fvgs.append((i + 1, h[i + 1], lo[i - 1], -1))

    def swings(w: int, high: bool) -> dict[int, float]:
        x = h if high else lo
        out = {}
        for i in range(w, n - w):
            win = x[i - w : i + w + 1]
            if x[i] == (max(win) if high else min(win)):
                out[i + w] = x[i]  # known w bars later
        return out

    liq_hi, liq_lo = swings(p.liquidity_window, True), swings(p.liquidity_window, False)
    st_hi, st_lo = swings(p.structure_window, True), swings(p.structure_window, False)

    rows = []
    lvl_hi = lvl_lo = math.nan
    run_hi, run_lo = -math.inf, math.inf
    s_hi = s_lo = math.nan
    hi_broken = lo_broken = True
    prevailing = 0
    for t in range(n):
        run_hi, run_lo = max(run_hi, h[t]), min(run_lo, lo[t])
        window = [z for z in obs if t - p.zone_lookback < z[0] <= t]
        fwin = [z for z in fvgs if t - p.zone_lookback < z[0] <= t]

        def nearest(zones, t=t):
            if math.isnan(atr[t]):
                return math.nan
            if not zones:
                return p.distance_cap
            d = min(max(b - c[t], c[t] - tp, 0.0) for _, b, tp, _ in zones)
            if atr[t] == 0:
                return 0.0 if d == 0 else p.distance_cap
            return min(d / atr[t], p.distance_cap)

        if t in liq_hi:
            lvl_hi = liq_hi[t]
        if t in liq_lo:
            lvl_lo = liq_lo[t]
        hi = run_hi if math.isnan(lvl_hi) else lvl_hi
        low = run_lo if math.isnan(lvl_lo) else lvl_lo
        if math.isnan(atr[t]):
            dh = dl = math.nan
        elif atr[t] > 0:
            dh, dl = (hi - c[t]) / atr[t], (c[t] - low) / atr[t]
        else:
            dh = dl = 0.0

        if t in st_hi:
            s_hi, hi_broken = st_hi[t], False
        if t in st_lo:
            s_lo, lo_broken = st_lo[t], False
        bull = not hi_broken and c[t] > s_hi
        bear = not lo_broken and c[t] < s_lo
        hi_broken |= bull
        lo_broken |= bear
        row = {
            "num_bullish_ob": sum(z[3] == 1 for z in window),
            "num_bearish_ob": sum(z[3] == -1 for z in window),
            "num_bullish_fvg": sum(z[3] == 1 for z in fwin),
            "num_bearish_fvg": sum(z[3] == -1 for z in fwin),
            "nearest_ob_distance": nearest(window),
            "nearest_fvg_distance": nearest(fwin),
            "liquidity_high_distance": dh,
            "liquidity_low_distance": dl,
            "bos_bullish": float(bull and prevailing != -1),
            "bos_bearish": float(bear and prevailing != 1),
            "choch_bullish": float(bull and prevailing == -1),
            "choch_bearish": float(bear and prevailing == 1),
        }
        rows.append(row)
        if bull != bear:
            prevailing = 1 if bull else -1
    return pd.DataFrame(rows, columns=list(SMC_COLUMNS), index=bars.index, dtype="float64")
