"""Batches gathered on the device equal the host's `make_batch` (windows bit for bit), in
the same order, with the same date groups; a short epoch and an empty batch are handled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tradeformer.dataset.universe import Scaler, assemble_universe, make_batch
from tradeformer.features.windows import gather, relative_ohlcv
from tradeformer.training.batching import group_ids
from tradeformer.training.inputs import DeviceInputs, HostInputs, choose_inputs
from tradeformer.training.inputs import relative_ohlcv as relative_ohlcv_torch

LOOKBACK = 40


def _universe(n_symbols=3, n=400, emb_dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_symbols * n))))
    vol = rng.uniform(1e5, 3e5, n_symbols * n)
    vol[rng.random(len(vol)) < 0.02] = 0.0  # zero-volume bars happen
    ohlcv = np.column_stack([close * 1.001, close * 1.01, close * 0.99, close, vol])
    ctx = rng.normal(size=(len(close), 29)).astype("float32") * 3
    emb = rng.normal(size=(len(close), 16)).astype(emb_dtype)
    ret = rng.normal(size=(len(close), 3)).astype("float32")
    ret[rng.random(ret.shape) < 0.05] = np.nan
    ts = np.tile(np.arange(n, dtype=np.int64) * 86_400 * 10**9, n_symbols)
    u = assemble_universe(
        [f"S{i}" for i in range(n_symbols)],
        np.full(n_symbols, n),
        ts,
        ohlcv,
        ctx,
        emb,
        ret,
        (ret > 0).astype("float32"),
        horizons=(3, 5, 10),
        lookback=LOOKBACK,
    )
    rows = np.flatnonzero(u.eligible)
    return u, rows, Scaler.fit(u, rows[: len(rows) // 2]), ts


@pytest.mark.parametrize("emb_dtype", ["float32", "float16"])
def test_device_batches_equal_host_batches(emb_dtype):
    u, rows, scaler, codes = _universe(emb_dtype=emb_dtype)
    rng = np.random.default_rng(1)
    batches = [rng.choice(rows, 37), rng.choice(rows, 64), np.array([], dtype=np.int64)]
    host = list(HostInputs(u, LOOKBACK, scaler, codes, "cpu").batches(batches))
    dev = DeviceInputs(u, LOOKBACK, scaler, codes, "cpu")
    # the raw windows the device gathers are today's numpy gather, bit for bit
    idx = torch.as_tensor(batches[0])[:, None] + dev.steps
    np.testing.assert_array_equal(dev.ohlcv[idx].numpy(), gather(u.ohlcv, batches[0], LOOKBACK))
    got = list(dev.batches(batches))
    assert [b.n for b in got] == [b.n for b in host] == [37, 64]  # the empty batch is skipped
    for g, h, r in zip(got, host, batches, strict=False):
        for k in ("context", "embedding", "ret", "dir"):  # elementwise ops in the same order
            np.testing.assert_array_equal(g.tensors[k].numpy(), h.tensors[k].numpy(), err_msg=k)
        # log/mean in torch vs numpy: equal to float32 rounding
        np.testing.assert_allclose(
            g.tensors["price"].numpy(), h.tensors["price"].numpy(), rtol=0, atol=1e-6
        )
        np.testing.assert_array_equal(g.groups.numpy(), group_ids(codes[r])[0])
        assert g.n_groups == h.n_groups == len(np.unique(codes[r]))


def test_torch_relative_ohlcv_matches_numpy_and_handles_zero_volume():
    rng = np.random.default_rng(2)
    w = np.abs(rng.normal(100, 5, size=(50, 30, 5)))
    w[3, :, 4] = 0.0  # a window without volume
    got = relative_ohlcv_torch(torch.as_tensor(w)).numpy()
    exp = relative_ohlcv(w)
    np.testing.assert_allclose(got, exp, rtol=0, atol=1e-6)
    assert (got[3, :, 4] == 0).all() and np.isfinite(got).all()


def test_device_inputs_reject_a_window_outside_the_universe():
    u, _, scaler, codes = _universe()
    dev = DeviceInputs(u, LOOKBACK, scaler, codes, "cpu")
    with pytest.raises(IndexError):
        list(dev.batches([np.array([LOOKBACK - 2])]))


def test_auto_inputs_stay_on_the_host_on_a_cpu():
    u, rows, scaler, codes = _universe()
    assert isinstance(choose_inputs(u, LOOKBACK, scaler, codes, "cpu", "auto"), HostInputs)
    assert isinstance(choose_inputs(u, LOOKBACK, scaler, codes, "cpu", "device"), DeviceInputs)
    b = make_batch(u, rows[:5], LOOKBACK, scaler)
    assert b["price"].dtype == np.float32
