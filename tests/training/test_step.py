"""The optimiser step: compiled (`training.compile`) gives eager's loss and gradients within
float rounding; the learning rate scales with the batch as documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tradeformer.config import TrainingConfig
from tradeformer.models import build_model
from tradeformer.training.optim import build_optimiser, lr_factor
from tradeformer.training.step import loss_function

TINY = {"d_model": 16, "n_heads": 2, "ffn_dim": 32, "n_layers": 1, "lookback": 20}


def _batch(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "price": torch.randn(n, 20, 5, generator=g) * 0.02,
        "embedding": torch.randn(n, 512, generator=g),
        "context": torch.randn(n, 20, 29, generator=g),
        "ret": torch.randn(n, 3, generator=g) * 0.02,
        "dir": (torch.rand(n, 3, generator=g) > 0.5).float(),
    }


def _loss_and_grads(model, cfg, b, groups, n_groups):
    model.zero_grad(set_to_none=True)
    loss = loss_function(model, model, cfg)(b, groups, n_groups)
    loss.backward()
    return float(loss.detach()), {
        n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None
    }


def test_compiled_loss_and_gradients_equal_eager():
    rank_loss = 0.5  # the model's loss and the per-date correlation term
    torch.manual_seed(0)
    model = build_model("timeformer", "small", **TINY).train()
    torch.nn.Module.eval(model)  # no dropout: both passes see the same function
    b, groups = _batch(), torch.arange(32) // 8
    eager = TrainingConfig(rank_loss_weight=rank_loss)
    compiled = TrainingConfig(rank_loss_weight=rank_loss, compile=True)
    loss_e, grads_e = _loss_and_grads(model, eager, b, groups, 4)
    loss_c, grads_c = _loss_and_grads(model, compiled, b, groups, 4)
    assert loss_c == pytest.approx(loss_e, rel=1e-5, abs=1e-6)
    assert grads_c.keys() == grads_e.keys() and len(grads_e) > 10
    for name, g in grads_e.items():
        torch.testing.assert_close(grads_c[name], g, rtol=1e-4, atol=1e-6, msg=name)


def test_learning_rate_scales_with_the_batch():
    assert lr_factor(TrainingConfig(batch_size=2048)) == 1.0  # no reference: as written
    cfg = TrainingConfig(batch_size=1024, lr_reference_batch=64, max_lr=1e-3)
    assert lr_factor(cfg) == pytest.approx(4.0)  # sqrt(16)
    assert lr_factor(cfg.model_copy(update={"lr_scaling": "linear"})) == pytest.approx(16.0)
    model = torch.nn.Linear(3, 1)
    opt, sched, _ = build_optimiser(model, cfg, "cpu", steps_per_epoch=10)
    peak = max(_lrs(opt, sched, 10 * cfg.epochs))
    assert peak == pytest.approx(4e-3, rel=1e-3)


def _lrs(opt, sched, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)
