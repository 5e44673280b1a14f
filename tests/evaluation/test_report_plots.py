"""The report's figures keep every line, bar and whisker inside their axes, also for
inputs far from the usual ~50 % (a drifting market's majority rate, a near-certain model)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from tradeformer.evaluation import report


@pytest.fixture
def keep_figure(monkeypatch):
    """The figure `_save` would close, kept for inspection."""
    kept = []
    monkeypatch.setattr(report, "_save", lambda fig, path: kept.append(fig) or path)
    yield kept
    plt.close("all")


def _outside(ax) -> list[str]:
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    bad = []
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ((x[ok] < x0) | (x[ok] > x1) | (y[ok] < y0) | (y[ok] > y1)).any():
            bad.append(line.get_label())
    for patch in ax.patches:
        top = patch.get_y() + patch.get_height()
        if not y0 <= top <= y1:
            bad.append(f"bar {patch.get_label()} at {top:.1f}")
    for coll in ax.collections:  # whiskers and majority lines
        for seg in coll.get_segments():
            if ((seg[:, 1] < y0 - 1e-9) | (seg[:, 1] > y1 + 1e-9)).any():
                bad.append(f"segment of {coll.get_label()}")
    return bad


def test_calibration_lines_stay_inside_both_panels(keep_figure, tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for model, lo, hi in [("timeformer", 0.45, 0.55), ("classical_lgbm", 0.02, 0.98),
                          ("veto (P[ensemble call right])", 0.3, 0.9)]:  # fmt: skip
        p = np.sort(rng.uniform(lo, hi, 10))
        up = np.clip(p + rng.normal(0, 0.2, 10), 0, 1)
        up[3] = np.nan  # an empty bin
        rows.append(pd.DataFrame({"model": model, "mean_prob": p, "frac_up": up}))
    report.plot_calibration(pd.concat(rows), tmp_path / "c.png", 5)
    (fig,) = keep_figure
    assert [_outside(ax) for ax in fig.axes] == [[], []]


@pytest.mark.parametrize("level", [0.5, 0.88, 0.2])
def test_accuracy_bars_whiskers_and_majority_stay_inside(keep_figure, tmp_path, level):
    names = ["timeformer", "tft", "ensemble", "classical_lgbm", "sma_crossover", "random"]
    one = {n: {"accuracy": level + 0.01 * k, "accuracy_ci": (level - 0.05, level + 0.05)}
           for k, n in enumerate(names)}  # fmt: skip
    one["always_up"] = {"majority_rate": max(level, 1 - level)}
    ev = {"horizons": [3, 5], "forecasts": {"3": one, "5": one}, "members": {}}
    report.plot_accuracy(ev, tmp_path / "a.png")
    (fig,) = keep_figure
    assert _outside(fig.axes[0]) == []
