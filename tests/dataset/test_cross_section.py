"""Cross-sectional transforms: equal to per-date references, and causal.

Causality on the bundled real bars (a universe of three series, no ../shared needed): every
per-date transform at date t (context ranks / z-scores, embedding z-scores, market context)
is bit-identical when every bar after t is altered, and the cross-sectional label at t when
the bars after t + h are altered; both when a symbol whose first bar comes after t joins.
"""

from __future__ import annotations

import mmap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from tradeformer.config import NormalizationConfig, TargetConfig
from tradeformer.data import load_sample
from tradeformer.dataset import cross_section
from tradeformer.dataset.arrays import ArrayStore, release
from tradeformer.dataset.cross_section import (
    MARKET_COLUMNS,
    above_date_median,
    apply_cross_section,
    cs_demean,
    cs_rank,
    cs_zscore,
    date_codes,
    trailing_log_return,
)
from tradeformer.dataset.universe import Scaler, build_universe
from tradeformer.features.pipeline import FeatureConfig, classical_features
from tradeformer.models.gbm import member_features

H = (3, 5, 10)
TARGET = TargetConfig(kind="cs_rank")
NORM = NormalizationConfig(context="cs_rank", embedding="cs_zscore", market_context=True)


def _random_panel(seed=0, n=600, k=3):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 40, size=n)
    x = rng.normal(size=(n, k))
    x[rng.random((n, k)) < 0.1] = np.nan
    x[codes == 7, 0] = 1.5  # a date whose values are all equal
    return x, codes


def test_cs_rank_matches_scipy_per_date():
    x, codes = _random_panel()
    got = cs_rank(x, codes)
    for d in np.unique(codes):
        for j in range(x.shape[1]):
            v = x[codes == d, j]
            ok = np.isfinite(v)
            exp = np.full(len(v), np.nan)
            if ok.any():
                exp[ok] = 2 * (rankdata(v[ok]) - 0.5) / ok.sum() - 1
            np.testing.assert_allclose(got[codes == d, j], exp, atol=1e-12)
    assert np.nanmax(np.abs(got)) < 1
    assert cs_rank(np.array([3.0]), np.array([0]))[0] == 0.0


def test_cs_zscore_demean_and_median_match_numpy_per_date():
    x, codes = _random_panel(1)
    z, dm, up = cs_zscore(x, codes), cs_demean(x, codes), above_date_median(x, codes)
    for d in np.unique(codes):
        for j in range(x.shape[1]):
            v = x[codes == d, j]
            ok = np.isfinite(v)
            sd = v[ok].std() if ok.any() else np.nan
            exp = (v - v[ok].mean()) / sd if sd > 0 else np.where(ok, 0.0, np.nan)
            np.testing.assert_allclose(z[codes == d, j], exp, atol=1e-9)
            np.testing.assert_allclose(dm[codes == d, j], v - np.nanmean(v), atol=1e-12)
            med = np.nanmedian(v) if ok.any() else np.nan
            exp_up = np.where(ok, (v > med) * 1.0, np.nan)
            np.testing.assert_array_equal(up[codes == d, j], exp_up)
    assert np.all(z[codes == 7, 0][np.isfinite(x[codes == 7, 0])] == 0)


def test_cs_zscore_in_row_blocks_equals_one_block(monkeypatch):
    x, codes = _random_panel(2, n=3000, k=5)
    whole = cs_zscore(x, codes)
    monkeypatch.setattr(cross_section, "_CHUNK_BYTES", 8 * 5 * 97)  # blocks of 97 rows
    np.testing.assert_allclose(cs_zscore(x, codes), whole, atol=1e-12)
    np.testing.assert_allclose(cs_zscore(x[:, 1], codes), whole[:, 1], atol=1e-12)


def _rss_file_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise RuntimeError("no RssFile")


@pytest.mark.skipif(
    not Path("/proc/self/status").exists() or not hasattr(mmap, "MADV_DONTNEED"),
    reason="needs Linux /proc and madvise",
)
def test_cs_zscore_of_a_memory_map_keeps_few_of_its_pages_resident(tmp_path, monkeypatch):
    """A (64 MiB in, 64 MiB out) z-score between memory maps: the mapped pages resident at
    any moment (sampled from another thread) stay far under either file's size."""
    n, k = 1 << 16, 512
    rng = np.random.default_rng(0)
    codes = np.sort(rng.integers(0, 500, size=n))[rng.permutation(n)]
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", "float16", (n, k))
    for a in range(0, n, 4096):
        x[a : a + 4096] = rng.normal(size=(4096, k))
        release(x)
    out = np.lib.format.open_memmap(tmp_path / "z.npy", "w+", "float16", (n, k))
    release(out)
    monkeypatch.setattr(cross_section, "_CHUNK_BYTES", 1 << 23)  # blocks of 2,048 rows
    base, peak, done = _rss_file_kib(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_file_kib() - base)
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        cs_zscore(x, codes, out=out)
    finally:
        done.set()
        sampler.join()
    file_kib = n * k * 2 // 1024
    assert peak[0] < file_kib // 4, (peak[0], file_kib)
    ref = cs_zscore(np.asarray(x[:, :8], dtype="float64"), codes)
    np.testing.assert_allclose(np.asarray(out[:, :8], dtype="float64"), ref, atol=2e-3, rtol=2e-3)


def test_robust_scaler_uses_median_and_iqr():
    x, _ = _random_panel(2)
    x = np.nan_to_num(x).astype("float32")
    u = type("U", (), {"context": x, "embedding": np.zeros((len(x), 0), "float32")})
    s = Scaler.fit(u, np.arange(len(x)), "robust", clip=3.0)
    q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75], axis=0)
    np.testing.assert_allclose(s.ctx_mean, q50, rtol=1e-6)
    np.testing.assert_allclose(s.ctx_std, (q75 - q25) / 1.349 + 1e-6, rtol=1e-5)
    assert np.abs(s.context(x * 100)).max() <= 3.0


# ------------------------------------------------------------------ causality on real bars
@pytest.fixture(scope="module")
def sample_bars() -> dict[str, pd.DataFrame]:
    bars = load_sample().bars
    return {
        s: b[(b["timestamp"] >= "2009-01-01") & (b["timestamp"] < "2013-01-01")]
        for s, b in bars.items()
    }


def _universe(bars: dict[str, pd.DataFrame], arrays: Path | None = None, norm=NORM):
    """`arrays`: normalise the embedding into a memory map there (the training path)."""
    parts = []
    for s, b in bars.items():
        b = b.reset_index(drop=True)
        table, _ = classical_features(b, FeatureConfig(horizons=H), timeframe="1D")
        close = b["close"].to_numpy()
        r = np.diff(np.log(close), prepend=np.nan)
        # a causal stand-in for an embedding: trailing returns and their square
        emb = np.stack([r, pd.Series(r).rolling(5).mean(), r * r], axis=1).astype("float32")
        parts.append((s, b, table, emb))
    u = build_universe(parts, horizons=H, lookback=20)
    if arrays is not None:
        u.meta["arrays"] = ArrayStore(arrays)
    return apply_cross_section(u, TARGET, norm)


def _rows_at_or_before(u, t) -> dict[str, np.ndarray]:
    cut = np.datetime64(t, "ns").astype("int64")
    return {
        s: np.arange(u.offsets[k], u.offsets[k + 1])[
            u.timestamps[u.offsets[k] : u.offsets[k + 1]] <= cut
        ]
        for k, s in enumerate(u.symbols)
    }


def _perturb_after(bars: dict[str, pd.DataFrame], t, seed=0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for s, b in bars.items():
        b = b.copy()
        after = b["timestamp"] > t
        f = np.exp(np.cumsum(rng.normal(0, 0.03, after.sum())))
        for c in ("open", "high", "low", "close"):
            b.loc[after, c] = b.loc[after, c].to_numpy() * f
        b.loc[after, "volume"] = b.loc[after, "volume"].to_numpy() * rng.uniform(
            0.2, 5, after.sum()
        )
        out[s] = b
    return out


@pytest.mark.parametrize("t", ["2010-06-30", "2011-11-15"])
@pytest.mark.parametrize("mapped", [False, True], ids=["in_ram", "memory_map"])
def test_inputs_at_t_ignore_every_bar_after_t(sample_bars, t, mapped, tmp_path):
    store = (lambda name: tmp_path / name) if mapped else (lambda name: None)
    base = _universe(sample_bars, store("base"))
    moved = _universe(_perturb_after(sample_bars, t), store("moved"))
    if mapped:  # the memory-mapped store holds exactly the in-RAM normalisation
        assert isinstance(base.embedding, np.memmap)
        np.testing.assert_array_equal(base.embedding, _universe(sample_bars).embedding)
    assert base.context.shape[1] == 29 + len(MARKET_COLUMNS)
    ra, rb = _rows_at_or_before(base, t), _rows_at_or_before(moved, t)
    # the boosted member's inputs: context + price-window summaries and their per-date ranks
    sa, sb = member_features(base)[0], member_features(moved)[0]
    assert sa.shape[1] == base.context.shape[1] + 31
    for s in base.symbols:
        np.testing.assert_array_equal(base.context[ra[s]], moved.context[rb[s]])
        np.testing.assert_array_equal(base.embedding[ra[s]], moved.embedding[rb[s]])
        np.testing.assert_array_equal(base.eligible[ra[s]], moved.eligible[rb[s]])
        np.testing.assert_array_equal(sa[ra[s]], sb[rb[s]])
    before = np.concatenate(list(ra.values()))
    later = np.setdiff1d(np.arange(len(base.context)), before)
    assert len(later) and not np.array_equal(base.context[later], moved.context[later])


@pytest.mark.parametrize("t", ["2010-06-30", "2011-11-15"])
def test_price_summary_context_at_t_ignores_every_bar_after_t(sample_bars, t):
    norm = NORM.model_copy(update={"price_summaries": True})
    base = _universe(sample_bars, norm=norm)
    moved = _universe(_perturb_after(sample_bars, t), norm=norm)
    assert base.context.shape[1] == 29 + len(MARKET_COLUMNS) + 15
    assert base.context_names[-1] == "close_sma_200_cs_rank"
    ra, rb = _rows_at_or_before(base, t), _rows_at_or_before(moved, t)
    for s in base.symbols:
        np.testing.assert_array_equal(base.context[ra[s]], moved.context[rb[s]])
        np.testing.assert_array_equal(base.eligible[ra[s]], moved.eligible[rb[s]])
    ok = base.eligible
    assert np.isfinite(base.context[ok]).all() and np.abs(base.context[ok, -15:]).max() <= 1


@pytest.mark.parametrize("t", ["2010-06-30", "2011-11-15"])
def test_label_at_t_ignores_bars_after_t_plus_h(sample_bars, t):
    dates = np.sort(next(iter(sample_bars.values()))["timestamp"].unique())
    i = int(np.searchsorted(dates, np.datetime64(t)))
    after = pd.Timestamp(dates[i + max(H)])  # the bars after t + 10 bars move
    base, moved = _universe(sample_bars), _universe(_perturb_after(sample_bars, after))
    ra, rb = _rows_at_or_before(base, t), _rows_at_or_before(moved, t)
    for s in base.symbols:
        np.testing.assert_array_equal(base.target_ret[ra[s]], moved.target_ret[rb[s]])
        np.testing.assert_array_equal(base.target_dir[ra[s]], moved.target_dir[rb[s]])


def test_a_symbol_that_joins_after_t_changes_nothing_at_t(sample_bars):
    t = "2011-03-31"
    newcomer = sample_bars["MSFT"].copy()
    newcomer = newcomer[newcomer["timestamp"] > t]
    newcomer[["open", "high", "low", "close"]] *= 0.37
    base = _universe(sample_bars)
    grown = _universe({**sample_bars, "NEW": newcomer})
    ra, rb = _rows_at_or_before(base, t), _rows_at_or_before(grown, t)
    assert len(rb["NEW"]) == 0
    fa, fb = member_features(base)[0], member_features(grown)[0]
    for s in base.symbols:
        for name in ("context", "embedding", "target_ret", "target_dir"):
            np.testing.assert_array_equal(getattr(base, name)[ra[s]], getattr(grown, name)[rb[s]])
        np.testing.assert_array_equal(fa[ra[s]], fb[rb[s]])
    # after t the newcomer is part of the cross-section
    t2 = np.datetime64("2012-06-29", "ns").astype("int64")
    at = lambda u: np.flatnonzero(u.timestamps == t2)  # noqa: E731
    assert len(at(grown)) == len(at(base)) + 1


def test_cross_sectional_target_is_a_per_date_rank_of_the_forward_return(sample_bars):
    u = _universe(sample_bars)
    codes = date_codes(u.timestamps)
    np.testing.assert_array_equal(u.target_ret, cs_rank(u.ret, codes).astype("float32"))
    lab = np.isfinite(u.ret[:, 0])
    per_date = pd.Series(u.target_ret[lab, 0]).groupby(codes[lab]).sum()
    assert np.abs(per_date).max() < 1e-5  # symmetric ranks: mean 0 on every date
    r1 = trailing_log_return(u.ohlcv[:, 3], u.offsets, 1)
    assert np.isnan(r1[u.offsets[:-1]]).all()
