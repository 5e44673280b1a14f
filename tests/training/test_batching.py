"""Date batches hold whole dates; the per-date correlation loss equals numpy's per group;
weight-decay groups, the early-stopping criterion and the prefetcher."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tradeformer.config import TrainingConfig
from tradeformer.models.losses import per_group_correlation
from tradeformer.training.batching import epoch_batches, subsample_dates


def _rows_and_codes(seed=0):
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(300), rng.integers(20, 40, size=300))  # ragged cross-sections
    rows = np.flatnonzero(rng.random(len(codes)) < 0.9)
    return rows, codes


def test_date_batches_are_whole_dates_each_once_per_epoch():
    rows, codes = _rows_and_codes()
    cfg = TrainingConfig(batching="dates", batch_size=100)
    batches = epoch_batches(rows, codes, cfg, np.random.default_rng(1), len(rows))
    seen = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(seen), rows)  # every row once
    for b in batches:
        for d in np.unique(codes[b]):  # a date in a batch comes with all its rows
            assert np.isin(rows[codes[rows] == d], b).all()
    sizes = [len(np.unique(codes[b])) for b in batches]
    assert max(sizes) == round(100 / np.bincount(codes[rows])[np.unique(codes[rows])].mean())
    capped = epoch_batches(rows, codes, cfg, np.random.default_rng(1), 2000)
    assert 1500 < sum(map(len, capped)) < 2600


def test_random_batches_are_unchanged_from_a_plain_permutation():
    rows, codes = _rows_and_codes()
    cfg = TrainingConfig(batch_size=64)
    got = epoch_batches(rows, codes, cfg, np.random.default_rng(5), 1000)
    perm = np.random.default_rng(5).permutation(rows)[:1000]
    np.testing.assert_array_equal(np.concatenate(got), perm)
    assert all(len(b) == 64 for b in got[:-1])


def test_date_subsample_never_cuts_a_date():
    rows, codes = _rows_and_codes(2)
    sub = subsample_dates(rows, codes, 1000, np.random.default_rng(0))
    assert 700 < len(sub) < 1300
    for d in np.unique(codes[sub]):
        assert np.isin(rows[codes[rows] == d], sub).all()


def test_per_group_correlation_matches_numpy():
    rng = np.random.default_rng(3)
    group = rng.integers(0, 6, size=200)
    pred = rng.normal(size=(200, 2))
    target = pred * 0.3 + rng.normal(size=(200, 2))
    target[rng.random((200, 2)) < 0.1] = np.nan
    target[group == 5] = np.nan  # a group without labels does not count
    exp = []
    for g in range(5):
        for j in range(2):
            m = (group == g) & np.isfinite(target[:, j])
            exp.append(np.corrcoef(pred[m, j], target[m, j])[0, 1])
    got = per_group_correlation(torch.tensor(pred), torch.tensor(target), torch.tensor(group))
    assert float(got) == pytest.approx(np.mean(exp), abs=1e-9)
    p = torch.tensor(pred, requires_grad=True)
    per_group_correlation(p, torch.tensor(target), torch.tensor(group)).backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    told = per_group_correlation(
        torch.tensor(pred), torch.tensor(target), torch.tensor(group), n_groups=6
    )
    assert float(told) == pytest.approx(np.mean(exp), abs=1e-9)  # the caller's group count
    lone = torch.tensor(pred[:2], requires_grad=True)  # no group has 3 members: 0, not NaN
    out = per_group_correlation(lone, torch.tensor(target[:2]), torch.tensor([0, 1]))
    assert float(out) == 0.0 and out.requires_grad


def test_random_batches_drop_a_short_last_batch_on_request():
    rows, codes = _rows_and_codes()
    cfg = TrainingConfig(batch_size=64)
    got = epoch_batches(rows, codes, cfg, np.random.default_rng(5), 1000, drop_last=True)
    assert [len(b) for b in got] == [64] * (1000 // 64)


def test_no_weight_decay_on_norms_biases_and_task_weights():
    from tradeformer.models import build_model
    from tradeformer.training.optim import param_groups

    model = build_model("tft", "small")
    decay, plain = param_groups(model, 1e-2)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert decay["weight_decay"] == 1e-2 and plain["weight_decay"] == 0.0
    assert not any(
        n.endswith("bias") or ".b_" in n or "norm" in n or "log_vars" in n for n in decayed
    )
    assert any(n.endswith("lstm.weight_hh_l0") for n in decayed)
    assert len(decay["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_early_stopping_reads_a_fixed_criterion():
    from tradeformer.config import TrainingConfig
    from tradeformer.training.devices import autocast_dtype
    from tradeformer.training.early_stopping import score

    cfg = TrainingConfig()
    assert score({"loss": -5.0, "fixed": 0.7}, cfg) == -0.7  # not the Kendall total
    assert autocast_dtype("cpu", "auto") is None and autocast_dtype("cuda", "fp32") is None


def test_prefetcher_keeps_order_and_measures_waiting():
    import time

    from tradeformer.training.inputs import Prefetcher

    def slow(i):
        time.sleep(0.02)
        return i * 2

    pre = Prefetcher(slow, list(range(6)), depth=2)
    assert list(pre) == [0, 2, 4, 6, 8, 10]
    assert pre.waited > 0.02  # nothing else to do here: the consumer waited
    assert list(Prefetcher(slow, [3], depth=2)) == [6]  # fewer items than the depth
