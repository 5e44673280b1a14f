"""Foundation embeddings: every backend through its real loading path (random weights saved to
a temp dir, no network), causality on real bars, the local encoder's training period, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.features.test_causality import splice_future
from tradeformer.data import BarStore
from tradeformer.features.foundation import build_embeddings, embed_bars, load_embeddings
from tradeformer.features.foundation.cache import make_backend
from tradeformer.features.foundation.local import (
    LocalBackend,
    LocalEncoderConfig,
    WindowSampler,
)
from tradeformer.features.windows import gather, relative_ohlcv, valid_ends

L = 120


@pytest.fixture(scope="module")
def bars(shared_data) -> pd.DataFrame:
    return (
        pd.read_parquet(shared_data / "daily" / "NVDA.parquet").iloc[-420:].reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def donor(shared_data) -> pd.DataFrame:
    return pd.read_parquet(shared_data / "daily" / "KO.parquet")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    pytest.importorskip("chronos")
    pytest.importorskip("kronos_finance")
    from tradeformer.features.foundation.random_checkpoints import (
        save_random_chronos,
        save_random_chronos_bolt,
        save_random_kronos,
    )

    root = tmp_path_factory.mktemp("ckpt")
    model, tok = save_random_kronos(root / "kronos")
    return {
        "chronos-t5": ("chronos", {"model_id": str(save_random_chronos(root / "t5"))}),
        "chronos-bolt": ("chronos", {"model_id": str(save_random_chronos_bolt(root / "bolt"))}),
        "kronos": ("kronos", {"model_id": str(model), "tokenizer_id": str(tok)}),
    }


@pytest.fixture(scope="module")
def local_backend(shared_data) -> LocalBackend:
    arrays, ends = [], []
    for sym in ("AAPL", "XOM", "JPM"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        arrays.append(d[["open", "high", "low", "close", "volume"]].to_numpy(float))
        ends.append(valid_ends(len(d), L)[: len(d) // 2])
    cfg = LocalEncoderConfig(steps=60, batch_size=64)
    return LocalBackend.fit(WindowSampler(arrays, ends, L), None, cfg, progress=False)


BACKENDS = ["chronos-t5", "chronos-bolt", "kronos", "local"]


def _backend(name, checkpoints, local_backend):
    if name == "local":
        return local_backend
    kind, kw = checkpoints[name]
    return make_backend(kind, **kw)


@pytest.mark.parametrize("name", BACKENDS)
def test_shape_and_determinism(name, checkpoints, local_backend, bars):
    b = _backend(name, checkpoints, local_backend)
    emb = embed_bars(bars, b, L, batch_size=100)
    assert emb.shape == (len(bars), 512)
    assert np.isnan(emb[: L - 1]).all()
    assert np.isfinite(emb[L - 1 :]).all()
    again = embed_bars(bars, b, L, batch_size=37)  # other batch boundaries, same values
    np.testing.assert_allclose(again[L - 1 :], emb[L - 1 :], rtol=1e-5, atol=1e-5)
    assert emb[L - 1 :].std(axis=0).mean() > 0  # not a constant
    d = b.describe()
    assert d["backend"] in ("chronos", "kronos", "local")


@pytest.mark.parametrize("name", BACKENDS)
def test_embedding_at_t_ignores_bars_after_t(name, checkpoints, local_backend, bars, donor):
    b = _backend(name, checkpoints, local_backend)
    full = embed_bars(bars, b, L, batch_size=128)
    for t in (L - 1, 200, 333, len(bars) - 3):
        spliced = embed_bars(splice_future(bars, donor, t), b, L, batch_size=128)
        np.testing.assert_allclose(spliced[: t + 1], full[: t + 1], rtol=1e-5, atol=1e-5)
        if t < len(bars) - 20:
            assert not np.allclose(spliced[t + 15], full[t + 15], atol=1e-6)


def test_local_encoder_learns_beyond_naive_baselines(shared_data):
    arrays, train, held = [], [], []
    for sym in ("AAPL", "XOM", "JPM", "KO", "CAT"):
        d = pd.read_parquet(shared_data / "daily" / f"{sym}.parquet")
        arrays.append(d[["open", "high", "low", "close", "volume"]].to_numpy(float))
        ends = valid_ends(len(d), L)
        cut = int(np.searchsorted(d["timestamp"], pd.Timestamp("2016-12-31"), side="right"))
        train.append(ends[ends < cut])
        held.append(ends[ends >= cut + L - 1])
    cfg = LocalEncoderConfig(steps=300, batch_size=128)
    b = LocalBackend.fit(
        WindowSampler(arrays, train, L), WindowSampler(arrays, held, L), cfg, progress=False
    )
    h = b.meta["heldout"]
    # a short run beats the zero and mean baselines clearly; the full default run (1,500
    # steps, benchmarks/embeddings.py) also beats linear interpolation (see docs/embeddings.md)
    assert h["masked_mse"] < 0.2 * h["zeros"]
    assert h["masked_mse"] < 0.8 * h["visible_mean"]


def test_local_training_sees_only_the_training_period(shared_data, tmp_path):
    """Changing bars after the training end leaves the trained weights bit-identical."""
    d = pd.read_parquet(shared_data / "daily" / "MSFT.parquet")
    other = pd.read_parquet(shared_data / "daily" / "WMT.parquet")
    cut = int(np.searchsorted(d["timestamp"], pd.Timestamp("2012-12-31"), side="right")) - 1
    cfg = LocalEncoderConfig(steps=20, batch_size=32)

    def weights(frame: pd.DataFrame) -> dict:
        a = frame[["open", "high", "low", "close", "volume"]].to_numpy(float)
        ends = valid_ends(len(a), L)
        m = LocalBackend.fit(WindowSampler([a], [ends[ends <= cut]], L), None, cfg, progress=False)
        return {k: v.clone() for k, v in m.model.state_dict().items()}

    a, b = weights(d), weights(splice_future(d, other, cut))
    assert all(bool((a[k] == b[k]).all()) for k in a)


def test_cache_computes_only_missing_rows(shared_data, tmp_path):
    full = pd.read_parquet(shared_data / "daily" / "AMD.parquet").iloc[-600:].reset_index(drop=True)
    store = BarStore(tmp_path / "store")
    store.write({"AMD": full.iloc[:500]}, "1D")
    cfg = LocalEncoderConfig(steps=20, batch_size=32)
    kw = dict(train_end="2023-01-01", local_config=cfg, progress=False)
    m1 = build_embeddings(tmp_path / "store", tmp_path / "emb", "local", **kw)
    assert m1["last_build"]["windows_computed"] == 500 - L + 1
    m2 = build_embeddings(tmp_path / "store", tmp_path / "emb", "local", **kw)
    assert m2["last_build"]["windows_computed"] == 0
    store.write({"AMD": full}, "1D")  # 100 new bars; training period unchanged
    m3 = build_embeddings(tmp_path / "store", tmp_path / "emb", "local", **kw)
    assert m3["path"] == m1["path"]
    assert m3["last_build"]["windows_computed"] == 100
    emb = load_embeddings(m3["path"], "AMD")
    fresh = embed_bars(full, LocalBackend.load(next((tmp_path / "emb/local-models").iterdir())), L)
    np.testing.assert_allclose(emb[L - 1 :], fresh[L - 1 :], rtol=1e-5, atol=1e-5)


def test_none_backend_and_windows(bars):
    none = make_backend("none")
    assert embed_bars(bars, none, L).shape == (len(bars), 0)
    with pytest.raises(ValueError, match="unknown embedding backend"):
        make_backend("bert")
    v = bars[["open", "high", "low", "close", "volume"]].to_numpy(float)
    w = gather(v, np.array([L - 1, 300]), L)
    np.testing.assert_array_equal(w[1], v[300 - L + 1 : 301])
    with pytest.raises(IndexError):
        gather(v, np.array([L - 2]), L)
    rel = relative_ohlcv(w)
    assert rel[:, -1, 3].tolist() == [0.0, 0.0]  # last close is the reference
