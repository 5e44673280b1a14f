"""Price jumps that valid-looking bars can hide: unadjusted splits and fat-finger spikes.

Both are warnings (the data may be right: a crash can halve a price overnight) and both have
a repair under `--policy repair`:

- **Split-like jump**: the open gaps from the previous close by a split ratio (2:1, 3:1, 4:1,
  3:2, 1:10 reverse, ...) within a tolerance, the close stays there, and the volume moves by
  about the inverse ratio (a 4:1 split quadruples the shares traded). Repair: prices before
  the jump are multiplied by the price ratio and volumes divided by it (back-adjustment: the
  latest prices stay as traded), factor and date recorded.
- **Reverting spike**: one bar whose close (or high / low wick) sits far from both neighbours'
  closes, which agree with each other (a close x1,000 for one day). Repair: the bar is dropped.

Thresholds scale with the symbol's own robust volatility (median absolute log return), so a
volatile name is not flagged for its ordinary moves. Everything is vectorised over the bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

# forward splits (price / k) and reverse splits (price * k). A 3:2 split moves prices as much
# as a one-third crash does (2020-03-09, 2008): on prices and volume alone it is flagged only
# when `adj_close` holds still across the jump (then the close is plainly unadjusted)
SPLIT_RATIOS = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0)
ADJ_ONLY = frozenset({1.5})
MIN_JUMP = np.log(1.4)  # smaller moves are never split-like (3:2 is the smallest ratio)
VOLUME_WINDOW = 20
SPIKE_MIN = np.log(1.5)  # a spike is at least +50 % (or -33 %) away from both neighbours
SPIKE_VOLS = 10.0  # ... and at least this many robust daily vols
WICK_MIN, WICK_VOLS = np.log(3.0), 25.0  # a high / low alone: x3 (real flash-crash lows exist)
REVERT_SHARE = 0.25  # neighbours within this share of the spike's size of each other


@dataclass(frozen=True)
class SplitJump:
    row: int  # the first bar at the new price level
    price_ratio: float  # the nice ratio the open gapped by (0.25 for a 4:1 split)
    observed: float  # open / previous close
    volume_ratio: float  # median volume after / before (nan without volume)

    @property
    def label(self) -> str:
        k = Fraction(1 / self.price_ratio).limit_denominator(10)
        if k > 1:
            return f"{k.numerator}:{k.denominator} split"
        return f"{k.numerator}:{k.denominator} reverse split"


def _robust_vol(logret: np.ndarray) -> float:
    r = logret[np.isfinite(logret)]
    return float(1.4826 * np.median(np.abs(r - np.median(r)))) if r.size else 0.0


def _window_median(v: np.ndarray, rows: np.ndarray, before: bool) -> np.ndarray:
    out = np.full(rows.size, np.nan)
    for k, t in enumerate(rows):  # a handful of candidate rows, never every bar
        w = v[max(0, t - VOLUME_WINDOW) : t] if before else v[t : t + VOLUME_WINDOW]
        w = w[np.isfinite(w) & (w > 0)]
        out[k] = np.median(w) if w.size >= 3 else np.nan
    return out


def split_like_jumps(frame: pd.DataFrame) -> list[SplitJump]:
    """Bars where the price level moves by a split ratio (see the module docstring)."""
    o, c = (frame[k].to_numpy(dtype="float64") for k in ("open", "close"))
    if len(c) < 3:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.log(o[1:] / c[:-1])  # open vs previous close
        move = np.log(c[1:] / c[:-1])
    tol = 0.025 + _robust_vol(move)  # the overnight move on top of the split ratio
    logk = np.log(np.asarray(SPLIT_RATIOS))
    dist = np.abs(np.abs(gap)[:, None] - logk[None, :])
    best = dist.argmin(axis=1)
    near = dist[np.arange(gap.size), best] < tol
    stays = np.abs(move - gap) < tol  # the close stays at the gapped level
    cand = np.flatnonzero(near & stays & (np.abs(gap) > MIN_JUMP)) + 1
    if cand.size == 0:
        return []
    vol = frame["volume"].to_numpy(dtype="float64")
    vr = _window_median(vol, cand, False) / _window_median(vol, cand, True)
    adj_still = _adj_close_still(frame, cand, tol)
    out = []
    for t, ratio, still in zip(cand, vr, adj_still, strict=True):
        k = SPLIT_RATIOS[best[t - 1]]
        price_ratio = 1 / k if gap[t - 1] < 0 else k
        if k in ADJ_ONLY and not still:
            continue
        # volume must move the other way, by at least sqrt(k)
        if np.isfinite(ratio) and np.log(ratio) * np.sign(-gap[t - 1]) < 0.5 * np.log(k):
            continue
        out.append(SplitJump(int(t), float(price_ratio), float(np.exp(gap[t - 1])), float(ratio)))
    return out


def _adj_close_still(frame: pd.DataFrame, rows: np.ndarray, tol: float) -> np.ndarray:
    """At each row: does `adj_close` (if any) hold still while the close jumps?"""
    if "adj_close" not in frame.columns:
        return np.zeros(rows.size, dtype=bool)
    a = frame["adj_close"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(np.log(a[rows] / a[rows - 1])) < tol


def reverting_spikes(frame: pd.DataFrame) -> np.ndarray:
    """Rows (not the first or last) whose close, high or low is far from both neighbours'
    closes while those agree with each other: a bad print, not a move."""
    c = frame["close"].to_numpy(dtype="float64")
    if len(c) < 3:
        return np.zeros(0, dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = np.log(c)
        vol = _robust_vol(np.diff(lc))
        thresh = max(SPIKE_MIN, SPIKE_VOLS * vol)
        prev, nxt = lc[:-2], lc[2:]
        across = np.abs(nxt - prev)  # the neighbours agree with each other
        mid = (prev + nxt) / 2
        close_dev = np.abs(lc[1:-1] - mid)
        wick_dev = np.zeros(len(c) - 2)
        for col in ("high", "low"):
            v = np.log(frame[col].to_numpy(dtype="float64"))[1:-1]
            wick_dev = np.maximum(wick_dev, np.abs(v - mid))
        hit = ((close_dev > thresh) & (across < REVERT_SHARE * close_dev)) | (
            (wick_dev > max(WICK_MIN, WICK_VOLS * vol)) & (across < REVERT_SHARE * wick_dev)
        )
    return np.flatnonzero(hit) + 1  # NaN comparisons are False: no NaN reaches here


def adjust_split(frame: pd.DataFrame, jump: SplitJump) -> pd.DataFrame:
    """Back-adjust the bars before `jump.row`: prices x price_ratio, volume / price_ratio."""
    out = frame.copy()
    before = np.arange(len(out)) < jump.row
    for col in ("open", "high", "low", "close"):
        v = out[col].to_numpy(dtype="float64").copy()
        v[before] *= jump.price_ratio
        out[col] = v
    if "adj_close" in out.columns:  # scaled too when it jumps with the close (unadjusted)
        a = out["adj_close"].to_numpy(dtype="float64").copy()
        if abs(np.log(a[jump.row] / a[jump.row - 1]) - np.log(jump.observed)) < 0.1:
            a[before] *= jump.price_ratio
            out["adj_close"] = a
    vol = out["volume"].to_numpy(dtype="float64").copy()
    vol[before] /= jump.price_ratio
    out["volume"] = vol
    return out
