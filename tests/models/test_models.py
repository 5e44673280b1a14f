"""TimeFormer-XL and TFT-XL: shapes, gradients, overfitting a real batch, attention/VSN weights,
determinism, and that the prediction depends on the whole window."""

from __future__ import annotations

import pytest
import torch

from tradeformer.models import build_model, count_parameters
from tradeformer.models.tft import TFTXL
from tradeformer.models.timeformer import TimeFormerXL

MODELS = ["timeformer", "tft"]


def make(name: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, "small", **kw)


@pytest.mark.parametrize("name", MODELS)
def test_shapes_for_both_context_layouts(name, batch):
    m = make(name).eval()
    p, e, c = batch["price"][:4], batch["embedding"][:4], batch["context"][:4]
    per_bar = m(p, e, c)
    static = m(p, e, c[:, -1])
    for out in (per_bar, static):
        assert out.ret.shape == out.dir_logit.shape == out.uncertainty.shape == (4, 3)
        assert out.attn_entropy.shape == (4,)
        assert (out.uncertainty > 0).all()
    # a (B, 29) context is the same as that vector repeated over the window
    repeated = m(p, e, c[:, -1:].expand_as(c))
    torch.testing.assert_close(static.ret, repeated.ret)
    if name == "tft":
        assert per_bar.quantiles.shape == (4, 3, 3)
        assert per_bar.var_weights.shape == (4, 34)


@pytest.mark.parametrize("name", MODELS)
def test_without_embedding(name, batch):
    m = make(name, embed_dim=0).eval()
    out = m(batch["price"][:2], None, batch["context"][:2])
    assert out.ret.shape == (2, 3)
    with pytest.raises(ValueError, match="without an embedding"):
        m(batch["price"][:2], batch["embedding"][:2], batch["context"][:2])


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_gets_a_gradient(name, batch):
    m = make(name).train()
    out = m(batch["price"][:8], batch["embedding"][:8], batch["context"][:8])
    loss, _ = m.loss(out, batch["ret"][:8], batch["dir"][:8])
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


@pytest.mark.parametrize("name", MODELS)
def test_overfits_a_tiny_real_batch(name, batch):
    m = make(name, dropout=0.0)
    m.set_return_scale(float(batch["ret"].std()))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)

    def task_loss() -> float:
        out = m(batch["price"], batch["embedding"], batch["context"])
        _, parts = m.loss(out, batch["ret"], batch["dir"])
        return float(parts["mse"] + parts["bce"])

    m.eval()
    start = task_loss()
    end = start
    for step in range(1, 401):
        m.train()
        out = m(batch["price"], batch["embedding"], batch["context"])
        loss, _ = m.loss(out, batch["ret"], batch["dir"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            m.eval()
            end = task_loss()
            if end < 0.1 * start:
                break
    assert end < 0.1 * start, (start, end, step)


@pytest.mark.parametrize("name", MODELS)
def test_attention_rows_sum_to_one(name, batch):
    out = make(name).eval()(batch["price"][:3], batch["embedding"][:3], batch["context"][:3])
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(out.attention.shape[:-1]))
    if name == "tft":  # causal: no step attends to a later one
        assert out.attention[0].triu(1).abs().max() == 0
    else:
        assert out.cross_attention.shape[-1] == 4  # several memory tokens to choose from
        torch.testing.assert_close(
            out.cross_attention.sum(-1), torch.ones(out.cross_attention.shape[:-1])
        )


def test_vsn_weights_are_per_variable_and_sum_to_one(batch):
    names = ["open", "high", "low", "close", "volume", *(f"f{i}" for i in range(29))]
    m = build_model("tft", "small", variable_names=names).eval()
    out = m(batch["price"][:3], batch["embedding"][:3], batch["context"][:3])
    assert out.var_weights_t.shape == (3, 120, 34)
    torch.testing.assert_close(out.var_weights_t.sum(-1), torch.ones(3, 120))
    torch.testing.assert_close(out.var_weights.sum(-1), torch.ones(3))
    assert len(m.variable_names) == 34


@pytest.mark.parametrize("name", MODELS)
def test_eval_is_deterministic(name, batch):
    m = make(name).eval()
    args = (batch["price"][:5], batch["embedding"][:5], batch["context"][:5])
    a, b = m(*args), m(*args)
    assert torch.equal(a.ret, b.ret)
    assert torch.equal(a.dir_logit, b.dir_logit)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("step", [3, 45, 100])
def test_prediction_depends_on_steps_inside_the_window(name, step, batch):
    """The head must see the sequence: the spec's snippet (head reads only the context token
    appended last) would ignore every price bar, and its gradient there would be exactly 0.
    Gradients rather than a perturbation's effect: an untrained network's response to one bar
    can sit at float32 noise (~1e-7) while its dependence is real."""
    m = make(name).eval()
    p = batch["price"][:4].clone().requires_grad_()
    c = batch["context"][:4].clone().requires_grad_()
    ret = m(p, batch["embedding"][:4], c).ret
    g_price, g_ctx = torch.autograd.grad(ret.square().sum(), (p, c))
    assert g_price[:, step, 3].abs().max() > 1e-8  # one close inside the window
    assert g_ctx[:, step, 10].abs().max() > 1e-8  # one feature at one step
    # and a real move of that close changes the forecast beyond rounding
    p2 = p.detach().clone()
    p2[:, step, 3] += 0.5
    with torch.no_grad():
        base = m(p.detach(), batch["embedding"][:4], c.detach()).ret
        assert (m(p2, batch["embedding"][:4], c.detach()).ret - base).abs().max() > 1e-6


def test_spec_presets_and_counts():
    tf, tft = build_model("timeformer", "spec"), build_model("tft", "spec")
    assert isinstance(tf, TimeFormerXL)
    assert isinstance(tft, TFTXL)
    assert tf.config.d_model == 256
    assert tf.config.n_layers == 6
    assert tf.config.n_heads == 8
    assert tft.config.hidden == 256
    # real counts (the spec's 8M / 6M are estimates)
    assert 5e6 < count_parameters(tf) < 10e6
    assert 5e6 < count_parameters(tft) < 10e6
    with pytest.raises(ValueError, match="preset"):
        build_model("tft", "huge")


@pytest.mark.parametrize(
    ("name", "kw"),
    [("timeformer", {}), ("tft", {}), ("tft", {"attn_layers": 2, "grn_layers": 2})],
)
def test_outputs_only_gives_the_same_forecast(name, kw, batch):
    """Skipping the queries only the attention map needs changes no forecast output."""
    m = make(name, **kw).eval()
    with torch.no_grad():
        full = m(batch["price"], batch["embedding"], batch["context"])
        fast = m(batch["price"], batch["embedding"], batch["context"], outputs_only=True)
    for k in ("ret", "dir_logit", "uncertainty", "attn_entropy"):
        torch.testing.assert_close(getattr(fast, k), getattr(full, k), rtol=1e-5, atol=1e-6)
    if name == "tft":
        assert fast.attention.shape[1] == 1
        torch.testing.assert_close(fast.attention[:, 0], full.attention[:, -1])


@pytest.mark.parametrize("name", ["timeformer", "tft"])
def test_training_on_the_last_bar_only_gives_the_same_loss_and_gradients(name, batch):
    """The trainer calls the networks with `outputs_only=True` (TFT-XL then runs its last
    attention layer and the GRNs after it for the last bar alone): on a fixed real batch the
    loss and every gradient equal the full computation's."""
    torch.manual_seed(0)
    model = build_model(name, "small", context_dim=batch["context"].shape[-1]).eval()
    args = (batch["price"], batch["embedding"], batch["context"])
    results = []
    for last_only in (False, True):
        model.zero_grad()
        loss = model.loss(model(*args, outputs_only=last_only), batch["ret"], batch["dir"])[0]
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        results.append((loss.detach(), grads))
    (full_loss, full_grads), (last_loss, last_grads) = results
    torch.testing.assert_close(last_loss, full_loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(last_grads, full_grads, rtol=1e-4, atol=1e-6)


def _unfolded_vsn(vsn, values, embedding, context):
    """The variable selection as the paper writes it: embeddings formed, context expanded."""
    x = embedding(values)
    b, t, v, d = x.shape
    logits = vsn.weights_grn(x.reshape(b, t, v * d), context.unsqueeze(1).expand(b, t, -1))
    w = torch.softmax(logits, dim=-1)
    if vsn.encoder == "linear":
        return vsn.var_linear.weighted_sum(values, w), w
    return vsn.project(vsn.var_grns.weighted_sum(x, w)), w


@pytest.mark.parametrize(
    ("preset", "encoder"), [("small", "grn"), ("small", "linear"), ("spec", "grn")]
)
def test_tft_fast_variable_selection_equals_the_unfolded_one(preset, encoder, batch, monkeypatch):
    """TFT-XL's folded variable selection (no embeddings formed for the selection weights, one
    context projection per sample) gives the forward outputs and every gradient of the plain
    computation on a fixed real batch."""
    torch.manual_seed(0)
    model = build_model("tft", preset, variable_encoder=encoder).eval()
    n = 4 if preset == "spec" else 16
    args = (batch["price"][:n], batch["embedding"][:n], batch["context"][:n])
    runs = []
    for fast in (True, False):
        if not fast:
            vsn = model.vsn
            monkeypatch.setattr(vsn, "forward", lambda v, e, c, m=vsn: _unfolded_vsn(m, v, e, c))
        model.zero_grad()
        out = model(*args)
        model.loss(out, batch["ret"][:n], batch["dir"][:n])[0].backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        runs.append((out, grads))
    (fast, fast_g), (ref, ref_g) = runs
    for k in ("ret", "dir_logit", "uncertainty", "var_weights_t", "attention"):
        torch.testing.assert_close(getattr(fast, k), getattr(ref, k), rtol=1e-5, atol=1e-6)
    assert fast_g.keys() == ref_g.keys()
    scale = max(g.abs().max() for g in ref_g.values())
    for k in ref_g:
        torch.testing.assert_close(fast_g[k], ref_g[k], rtol=1e-4, atol=1e-6 * scale)


def test_tft_linear_variable_encoder_is_a_config_switch(batch):
    """The named cheaper variant (the `small` default): no per-variable GRNs, same outputs and
    selection weights; a bundle written before the switch existed still rebuilds its GRNs."""
    from dataclasses import asdict

    from tradeformer.models.registry import model_from_manifest

    grn, linear = make("tft", variable_encoder="grn"), make("tft")
    assert linear.config.variable_encoder == "linear"
    old_manifest = {k: v for k, v in asdict(grn.config).items() if k != "variable_encoder"}
    rebuilt = model_from_manifest("tft", old_manifest)
    assert rebuilt.config.variable_encoder == "grn"
    rebuilt.load_state_dict(grn.state_dict())
    assert not hasattr(linear.vsn, "var_grns") and hasattr(grn.vsn, "var_grns")
    assert count_parameters(linear) < count_parameters(grn)
    out = linear.train()(batch["price"][:8], batch["embedding"][:8], batch["context"][:8])
    assert out.var_weights.shape == (8, 34)
    linear.loss(out, batch["ret"][:8], batch["dir"][:8])[0].backward()
    assert all(p.grad is not None for p in linear.parameters())
    with pytest.raises(ValueError, match="variable encoder"):
        make("tft", variable_encoder="mlp")


def test_timeformer_fast_paths_equal_the_plain_computation(batch, monkeypatch):
    """On a fixed real batch, TimeFormer-XL's fast paths (fused attention where weights are not
    read, the CPU softmax, RoPE as a complex product, patches as one matmul) give the outputs
    of the plain computation: every attention forming its weights with torch's softmax, the
    real-valued RoPE and the strided convolution."""
    import torch.nn.functional as F

    from tests.models.reference import pairwise_rope
    from tradeformer.models.layers import attention, rope
    from tradeformer.models.layers.patching import PatchEmbedding

    model = make("timeformer").eval()
    args = (batch["price"], batch["embedding"], batch["context"])
    with torch.no_grad():
        fast = model(*args)
        monkeypatch.setattr(attention, "softmax", lambda x: torch.softmax(x, dim=-1))
        orig = attention.RopeSelfAttention.forward
        monkeypatch.setattr(
            attention.RopeSelfAttention,
            "forward",
            lambda self, x, mask=None, need_weights=True: orig(self, x, mask, True),
        )
        monkeypatch.setattr(
            PatchEmbedding,
            "forward",
            lambda self, x: F.conv1d(
                x.transpose(1, 2), self.proj.weight, self.proj.bias, stride=self.patch_len
            ).transpose(1, 2),
        )
        monkeypatch.setattr(
            rope.RotaryEmbedding,
            "forward",
            lambda self, x: pairwise_rope(x, *self.angles(torch.arange(x.shape[-2]))),
        )
        plain = model(*args)
    for k in ("ret", "dir_logit", "uncertainty", "attn_entropy", "attention"):
        torch.testing.assert_close(getattr(fast, k), getattr(plain, k), rtol=1e-5, atol=1e-6)
