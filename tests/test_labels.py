"""Labels: forward returns and directions, unlabeled tail, kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.labels import forward_returns, label_columns


def test_values_on_real_closes(aapl_daily):
    c = aapl_daily["close"]
    lab = forward_returns(c)
    assert (
        list(lab.columns)
        == label_columns()
        == ["ret_3", "ret_5", "ret_10", "dir_3", "dir_5", "dir_10"]
    )
    t = 1000
    assert lab["ret_5"].iloc[t] == pytest.approx(np.log(c.iloc[t + 5] / c.iloc[t]), rel=1e-12)
    assert lab["dir_10"].iloc[t] == float(c.iloc[t + 10] > c.iloc[t])
    simple = forward_returns(c, kind="simple")
    assert simple["ret_3"].iloc[t] == pytest.approx(c.iloc[t + 3] / c.iloc[t] - 1, rel=1e-12)


def test_tail_is_unlabeled_never_filled(aapl_daily):
    lab = forward_returns(aapl_daily["close"])
    for h in (3, 5, 10):
        assert lab[f"ret_{h}"].iloc[-h:].isna().all()
        assert lab[f"dir_{h}"].iloc[-h:].isna().all()
        assert lab[f"ret_{h}"].iloc[:-h].notna().all()


def test_flat_is_not_up_and_bad_args():
    lab = forward_returns(pd.Series([1.0, 1.0, 2.0, 2.0, 2.0]), horizons=(1,))
    assert lab["dir_1"].tolist()[:4] == [0.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="kind"):
        forward_returns(pd.Series([1.0, 2.0]), kind="pct")
    with pytest.raises(ValueError, match="positive"):
        forward_returns(pd.Series([1.0, 2.0]), horizons=(0,))


def test_short_series_all_nan():
    lab = forward_returns(pd.Series([1.0, 2.0]), horizons=(3,))
    assert lab["ret_3"].isna().all()
