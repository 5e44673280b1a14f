"""The vectorised backtest against a bar-by-bar loop, hand cases, causality and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.evaluation.backtest import run_backtest, sharpe, sharpe_ci


@pytest.fixture(scope="module")
def frame(shared_data):
    """Four real symbols over 2018-2019 with next-bar and 3-bar log returns."""
    parts = []
    for sym in ("AAPL", "XOM", "JPM", "KO"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        d = d[(d["timestamp"] >= "2018-01-01") & (d["timestamp"] < "2020-01-01")]
        c = d["close"].to_numpy()
        nxt = np.append(np.log(c[1:] / c[:-1]), np.nan)
        r3 = np.full(len(c), np.nan)
        r3[:-3] = np.log(c[3:] / c[:-3])
        parts.append(
            pd.DataFrame(
                {
                    "symbol": sym,
                    "timestamp": d["timestamp"].to_numpy(),
                    "next_ret_1": nxt,
                    "ret_3": r3,
                    "close_growth": c[-1] / c[0],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _loop_reference(frame, sig, holding, cost_bps, long_only=False):
    """The definition, one date and one symbol at a time."""
    sig = np.maximum(sig, 0) if long_only else sig
    dates = np.sort(frame["timestamp"].unique())
    syms = sorted(frame["symbol"].unique())
    lookup = {
        (s, t): i for i, (s, t) in enumerate(zip(frame["symbol"], frame["timestamp"], strict=True))
    }
    prev_pos = dict.fromkeys(syms, 0.0)
    history = {s: [] for s in syms}
    out = []
    for t in dates:
        present = [s for s in syms if (s, t) in lookup]
        n = max(len(present), 1)
        gross = turnover = 0.0
        for s in syms:
            i = lookup.get((s, t))
            history[s].append(sig[i] if i is not None else 0.0)
            pos = sum(history[s][-holding:]) / holding
            if i is not None:
                r = np.expm1(frame["next_ret_1"].iloc[i])
                gross += pos * (0.0 if np.isnan(r) else r) / n
                turnover += abs(pos - prev_pos[s]) / n
            prev_pos[s] = pos
        out.append(gross - turnover * cost_bps / 1e4)
    return np.array(out)


@pytest.mark.parametrize(("holding", "long_only"), [(1, False), (3, False), (5, True)])
def test_matches_the_loop_definition_on_real_returns(frame, holding, long_only):
    rng = np.random.default_rng(holding)
    sig = rng.choice([-1.0, 0.0, 1.0], size=len(frame))
    res = run_backtest(frame, sig, holding=holding, cost_bps=5, long_only=long_only)
    ref = _loop_reference(frame, sig, holding, 5, long_only)
    np.testing.assert_allclose(res.daily["net"].to_numpy(), ref, atol=1e-12)
    eq = np.cumprod(1 + ref)
    assert res.stats["max_drawdown"] == pytest.approx((eq / np.maximum.accumulate(eq) - 1).min())
    assert res.stats["sharpe"] == pytest.approx(ref.mean() / ref.std(ddof=1) * np.sqrt(252))


def test_buy_and_hold_of_one_symbol_is_its_price_path(frame):
    one = frame[frame["symbol"] == "AAPL"].reset_index(drop=True)
    res = run_backtest(one, np.ones(len(one)), holding=1, cost_bps=5)
    r = np.expm1(one["next_ret_1"].fillna(0.0).to_numpy())
    # the entry cost is paid out of the first day's return, then everything compounds
    expected = (1 + r[0] - 5e-4) * np.prod(1 + r[1:])
    assert res.daily["equity"].iloc[-1] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(one["close_growth"].iloc[0], rel=1e-3)
    assert res.stats["annual_turnover"] == pytest.approx(252 / len(one))  # one entry


def test_per_trade_returns_and_win_rate(frame):
    sig = np.where(np.arange(len(frame)) % 4 == 0, 1.0, 0.0)
    sig[1::8] = -1.0
    res = run_backtest(frame, sig, holding=3, cost_bps=10)
    on = (sig != 0) & frame["ret_3"].notna().to_numpy()
    net = sig[on] * np.expm1(frame["ret_3"].to_numpy()[on]) - 2e-3
    assert res.stats["n_trades"] == on.sum()
    assert res.stats["win_rate"] == pytest.approx((net > 0).mean())
    assert res.stats["avg_trade_return"] == pytest.approx(net.mean())
    assert res.stats["coverage"] == pytest.approx((sig != 0).mean())


def test_future_returns_do_not_change_past_portfolio_returns(frame):
    sig = np.random.default_rng(0).choice([-1.0, 1.0], size=len(frame))
    a = run_backtest(frame, sig, holding=3).daily
    cut = pd.Timestamp("2019-06-03")
    f2 = frame.copy()
    later = f2["timestamp"] >= cut
    f2.loc[later, "next_ret_1"] *= -3.0
    sig2 = sig.copy()
    sig2[later.to_numpy()] *= -1
    b = run_backtest(f2, sig2, holding=3).daily
    before = a.index < cut
    np.testing.assert_array_equal(a.loc[before, "net"], b.loc[before, "net"])
    assert not np.allclose(a.loc[~before, "net"], b.loc[~before, "net"])


def test_bad_input_is_refused(frame):
    with pytest.raises(ValueError, match="-1, 0 or"):
        run_backtest(frame, np.full(len(frame), 2.0), holding=3)
    with pytest.raises(ValueError, match="shape"):
        run_backtest(frame, np.ones(3), holding=3)
    with pytest.raises(ValueError, match="holding"):
        run_backtest(frame, np.ones(len(frame)), holding=0)


def test_sharpe_interval_covers_the_estimate():
    r = np.random.default_rng(0).normal(5e-4, 0.01, 1500)
    lo, hi = sharpe_ci(r)
    assert lo < sharpe(r) < hi
    # the standard error of an annualised Sharpe over ~6 years is ~0.41
    assert (hi - lo) / (2 * 1.96) == pytest.approx(np.sqrt(252 / 1500), rel=0.3)
