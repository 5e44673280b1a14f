"""Walk-forward folds with purge and embargo, and the final untouched test period.

All stages use this one definition. Positions are indices into the sorted union of decision
dates. For fold k, validation = `val_bars` dates; training = dates before
`val_start - purge - embargo` (expanding from the start, or the last `train_bars` dates when
sliding), so no training label window (t, t + h_max] reaches a validation date (purge = the
longest horizon) and an extra embargo separates them. The test period is preceded by the same
gap, and the final models never see it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradeformer.config import CalendarConfig
from tradeformer.errors import ConfigError


@dataclass(frozen=True)
class Fold:
    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp  # inclusive
    val_start: pd.Timestamp
    val_end: pd.Timestamp  # inclusive

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, pd.Timestamp) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Calendar:
    folds: list[Fold]
    final_train_start: pd.Timestamp
    final_train_end: pd.Timestamp  # last date the final/test-time models may train on
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    purge_bars: int
    embargo_bars: int

    def to_dict(self) -> dict:
        return {
            "folds": [f.to_dict() for f in self.folds],
            "final_train_start": str(self.final_train_start),
            "final_train_end": str(self.final_train_end),
            "test_start": str(self.test_start),
            "test_end": str(self.test_end),
            "purge_bars": self.purge_bars,
            "embargo_bars": self.embargo_bars,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calendar:
        ts = pd.Timestamp
        folds = [
            Fold(
                f["index"],
                *(ts(f[k]) for k in ("train_start", "train_end", "val_start", "val_end")),
            )
            for f in d["folds"]
        ]
        keys = ("final_train_start", "final_train_end", "test_start", "test_end")
        return cls(folds, *(ts(d[k]) for k in keys), d["purge_bars"], d["embargo_bars"])


def make_calendar(dates: np.ndarray, cfg: CalendarConfig, max_horizon: int) -> Calendar:
    """Folds over the sorted unique decision dates (datetime64) of all samples."""
    d = pd.DatetimeIndex(np.unique(dates))
    if cfg.start:
        d = d[d >= pd.Timestamp(cfg.start)]
    test_start = pd.Timestamp(cfg.test_start)
    test_end = pd.Timestamp(cfg.test_end) if cfg.test_end else d[-1]
    pre = d[d < test_start]
    test = d[(d >= test_start) & (d <= test_end)]
    if len(test) == 0:
        raise ConfigError(f"no dates on or after test_start {cfg.test_start}")
    purge = max_horizon if cfg.purge_bars is None else cfg.purge_bars
    gap = purge + cfg.embargo_bars
    need = cfg.n_folds * cfg.val_bars + gap + 50
    if len(pre) < need:
        raise ConfigError(
            f"{len(pre)} dates before test_start {cfg.test_start}: {cfg.n_folds} folds of "
            f"{cfg.val_bars} validation dates plus a {gap}-date gap need at least {need}"
        )
    # the final test period is preceded by the gap too: the last pre-test dates are unusable
    usable = len(pre) - gap
    folds = []
    for k in range(cfg.n_folds):
        v0 = usable - (cfg.n_folds - k) * cfg.val_bars
        v1 = v0 + cfg.val_bars - 1
        t1 = v0 - gap - 1
        t0 = max(0, t1 - cfg.train_bars + 1) if cfg.scheme == "sliding" and cfg.train_bars else 0
        if t1 - t0 < 50:
            raise ConfigError(f"fold {k}: only {t1 - t0 + 1} training dates")
        folds.append(Fold(k, pre[t0], pre[t1], pre[v0], pre[v1]))
    final_t0 = 0
    if cfg.scheme == "sliding" and cfg.train_bars:
        final_t0 = max(0, usable - 1 - cfg.train_bars + 1)
    return Calendar(
        folds=folds,
        final_train_start=pre[final_t0],
        final_train_end=pre[usable - 1],
        test_start=test[0],
        test_end=test[-1],
        purge_bars=purge,
        embargo_bars=cfg.embargo_bars,
    )
