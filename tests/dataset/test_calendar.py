"""Walk-forward calendar: purge and embargo keep every training label window away from
validation and test samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny_config
from tradeformer.config import CalendarConfig
from tradeformer.dataset.calendar import make_calendar
from tradeformer.stages.pipeline import run_training


def test_folds_are_ordered_with_gaps():
    dates = pd.bdate_range("2005-01-03", "2012-12-31").to_numpy()
    cfg = CalendarConfig(test_start="2012-01-01", n_folds=3, val_bars=100, embargo_bars=5)
    cal = make_calendar(dates, cfg, max_horizon=10)
    d = pd.DatetimeIndex(dates)
    pos = {t: i for i, t in enumerate(d)}
    for f in cal.folds:
        assert pos[f.val_start] - pos[f.train_end] - 1 == 15  # purge 10 + embargo 5
        assert f.val_end < cal.test_start
    assert pos[cal.test_start] - pos[cal.final_train_end] - 1 == 15
    starts = [f.val_start for f in cal.folds]
    assert starts == sorted(starts)
    sliding = make_calendar(
        dates, cfg.model_copy(update={"scheme": "sliding", "train_bars": 300}), 10
    )
    assert all(pos[f.train_end] - pos[f.train_start] + 1 == 300 for f in sliding.folds)
    with pytest.raises(ValueError, match="need at least"):
        make_calendar(dates[-400:], cfg, 10)


def test_no_training_label_window_reaches_validation_or_test(tiny_source, tmp_path):
    """On the real universe: for every fold, the label window (t, t + h_max] of every training
    sample ends before the first validation date, and before the test period."""
    seen = {}

    def grab(u, calendar):
        seen["u"], seen["cal"] = u, calendar

    run_training(
        tiny_config(tiny_source, tmp_path),
        stages=("data",),
        label_hook=grab,
        progress=False,
    )
    u, cal = seen["u"], seen["cal"]
    h = max(u.horizons)
    sym_end = u.offsets[1:][u.symbol_of]  # exclusive end row of each row's symbol
    for f in [*cal.folds, None]:
        if f is None:
            tr = u.rows_between(cal.final_train_start, cal.final_train_end)
            first_blocked = np.datetime64(cal.test_start)
        else:
            tr = u.rows_between(f.train_start, f.train_end)
            va = u.rows_between(f.val_start, f.val_end)
            assert len(va) > 0
            first_blocked = np.datetime64(f.val_start)
        assert len(tr) > 0
        label_end = np.minimum(tr + h, sym_end[tr] - 1)
        assert (u.timestamps[label_end].astype("M8[ns]") < first_blocked).all()
