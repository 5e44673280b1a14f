"""Shared layers: RoPE is relative, GRN/GLU shapes, VSN weights, attention rows, losses."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from tradeformer.models.layers import (
    TCN,
    GatedResidualNetwork,
    InterpretableMultiHeadAttention,
    PatchEmbedding,
    RopeSelfAttention,
    RotaryEmbedding,
    VariableEmbedding,
    VariableSelectionNetwork,
    attention_entropy,
)
from tradeformer.models.losses import MultiTaskLoss, gaussian_nll, quantile_loss
from tradeformer.models.tft import QuantileHead

torch.manual_seed(0)


def test_rope_scores_depend_only_on_relative_position():
    rope = RotaryEmbedding(16)
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m: int, n: int) -> float:
        qm = rope(q, torch.tensor([m]))
        kn = rope(k, torch.tensor([n]))
        return float((qm * kn).sum())

    assert score(3, 1) == pytest.approx(score(10, 8), rel=1e-5)
    assert score(0, 5) == pytest.approx(score(7, 12), rel=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), rel=1e-3)
    # a rotation keeps norms
    x = torch.randn(2, 4, 9, 16)
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))


def test_rope_complex_product_equals_the_pairwise_rotation():
    """The float32 fast path (one complex product, cached rotations) is the real formula, also
    at explicit positions, for bf16 (real form) and for views it cannot read as pairs."""
    from tests.models.reference import pairwise_rope

    rope = RotaryEmbedding(16)
    x = torch.randn(2, 3, 9, 16)
    pos = torch.arange(9)
    torch.testing.assert_close(rope(x), pairwise_rope(x, *rope.angles(pos)))
    torch.testing.assert_close(rope(x, pos + 4), pairwise_rope(x, *rope.angles(pos + 4)))
    ref = pairwise_rope(x, *rope.angles(pos))
    torch.testing.assert_close(rope(x.bfloat16()).float(), ref, rtol=2e-2, atol=2e-2)
    odd = torch.randn(2, 9, 17)[..., 1:]  # odd storage offset and strides: the real form
    torch.testing.assert_close(rope(odd), pairwise_rope(odd, *rope.angles(pos)))


@pytest.mark.parametrize("masked", [False, True])
def test_rope_attention_without_weights_gives_the_same_output(masked):
    """Layers whose weights are not read run fused (SDPA in eval); same output."""
    torch.manual_seed(0)
    attn = RopeSelfAttention(32, 4, dropout=0.1).eval()
    x = torch.randn(3, 7, 32)
    mask = torch.ones(7, 7, dtype=torch.bool).triu(1) if masked else None
    full, w = attn(x, mask)
    fused, none = attn(x, mask, need_weights=False)
    assert w.shape == (3, 4, 7, 7) and none is None
    torch.testing.assert_close(fused, full, rtol=1e-5, atol=1e-6)


def test_cross_attention_equals_torch_multihead_attention():
    """Same parameters (state dict keys included), same outputs and weights as
    `nn.MultiheadAttention(batch_first=True)` with per-head weights."""
    from tradeformer.models.layers import CrossAttention

    torch.manual_seed(0)
    ours = CrossAttention(32, 4, dropout=0.1).eval()
    ref = torch.nn.MultiheadAttention(32, 4, dropout=0.1, batch_first=True).eval()
    ref.load_state_dict({k.removeprefix("attn."): v for k, v in ours.state_dict().items()})
    q, mem = torch.randn(3, 13, 32), torch.randn(3, 4, 32)
    y, w = ours(q, mem)
    y_ref, w_ref = ref(q, mem, mem, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w, w_ref, rtol=1e-5, atol=1e-6)
    assert ours(q, mem, need_weights=False)[1] is None


def test_rope_attention_rows_sum_to_one_and_mask():
    attn = RopeSelfAttention(32, 4)
    x = torch.randn(3, 7, 32)
    mask = torch.ones(7, 7, dtype=torch.bool).triu(1)
    y, w = attn(x, mask)
    assert y.shape == x.shape
    assert w.shape == (3, 4, 7, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 7))
    assert (w[..., mask] == 0).all()


def test_interpretable_attention_shares_values():
    attn = InterpretableMultiHeadAttention(32, 4)
    assert attn.v.out_features == 8  # one value projection of head width, shared
    y, w = attn(torch.randn(2, 5, 32))
    assert y.shape == (2, 5, 32)
    assert w.shape == (2, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5))


def test_grn_projects_skip_when_widths_differ():
    grn = GatedResidualNetwork(12, 16, 8, d_context=4)
    assert isinstance(grn.skip, torch.nn.Linear)
    assert grn(torch.randn(3, 12), torch.randn(3, 4)).shape == (3, 8)
    same = GatedResidualNetwork(8, 16)
    assert isinstance(same.skip, torch.nn.Identity)


def test_vsn_weights_per_variable_sum_to_one():
    emb = VariableEmbedding(6, 4)
    for encoder in ("grn", "linear"):
        vsn = VariableSelectionNetwork(6, 4, 16, d_context=8, encoder=encoder)
        sel, w = vsn(torch.randn(2, 10, 6), emb, torch.randn(2, 8))
        assert sel.shape == (2, 10, 16)
        assert w.shape == (2, 10, 6)
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 10))
    with pytest.raises(ValueError, match="variable encoder"):
        VariableSelectionNetwork(6, 4, 16, encoder="mlp")


@pytest.mark.parametrize("d_out", [5, 24])  # a projected skip (24 != 6 x 4) and the identity
def test_grn_on_folded_scalar_embeddings_equals_the_grn_on_the_embeddings(d_out):
    """`forward_embedded` folds the per-variable affine embedding into the GRN's first linear
    maps: outputs and every gradient equal the GRN applied to the formed embeddings."""
    torch.manual_seed(0)
    emb = VariableEmbedding(6, 4).double()  # float64: the two orders of summation agree
    with torch.no_grad():
        emb.bias.normal_()
    grn = GatedResidualNetwork(6 * 4, 16, d_out, d_context=8).double().eval()
    values, ctx = torch.randn(3, 7, 6).double(), torch.randn(3, 1, 8).double()
    params = [*emb.parameters(), *grn.parameters()]

    def run(fn):
        out = fn()
        grads = torch.autograd.grad(out.square().sum(), params, allow_unused=True)
        return out, grads

    ref, ref_g = run(lambda: grn(emb(values).flatten(-2), ctx.expand(3, 7, 8)))
    new, new_g = run(lambda: grn.forward_embedded(values, emb.weight, emb.bias, ctx))
    torch.testing.assert_close(new, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(new_g, ref_g, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_linear_variable_encoder_is_the_weighted_sum_of_affine_maps():
    from tradeformer.models.layers.vsn import LinearVariables

    torch.manual_seed(0)
    enc = LinearVariables(5, 3)
    with torch.no_grad():
        enc.bias.normal_()
    x, w = torch.randn(2, 4, 5), torch.softmax(torch.randn(2, 4, 5), -1)
    per_var = x.unsqueeze(-1) * enc.weight + enc.bias  # (2, 4, 5, 3)
    torch.testing.assert_close(enc.weighted_sum(x, w), (per_var * w.unsqueeze(-1)).sum(-2))


def test_patch_and_tcn_shapes():
    p = PatchEmbedding(5, 16, 10)
    assert p(torch.randn(2, 120, 5)).shape == (2, 12, 16)
    with pytest.raises(ValueError, match="multiple"):
        p(torch.randn(2, 115, 5))
    assert TCN(16, 3)(torch.randn(2, 12, 16)).shape == (2, 12, 16)


def test_patch_embedding_equals_the_strided_convolution():
    torch.manual_seed(0)
    p = PatchEmbedding(5, 16, 10)
    x = torch.randn(2, 120, 5)
    ref = p.proj(x.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(p(x), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(256, 13, 13), (7, 34), (2, 4, 5, 120)])
def test_cpu_softmax_equals_torch_softmax(shape):
    from tradeformer.models.layers.softmax import softmax

    x = (torch.randn(*shape, dtype=torch.float64) * 3).requires_grad_()
    if len(shape) == 4:  # a causal mask's -inf entries
        x = x.masked_fill(torch.ones(shape[-2], shape[-1], dtype=torch.bool).triu(1), -torch.inf)
    g = torch.randn(*shape, dtype=torch.float64)
    ours, ref = softmax(x), torch.softmax(x, dim=-1)
    torch.testing.assert_close(ours, ref)
    (d_ours,) = torch.autograd.grad(ours, x, g)
    (d_ref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(d_ours, d_ref)


def test_entropy_bounds():
    uniform = torch.full((2, 3, 4, 4), 0.25)
    torch.testing.assert_close(attention_entropy(uniform), torch.full((2,), math.log(4)))
    onehot = torch.eye(4).expand(2, 3, 4, 4)
    assert attention_entropy(onehot).abs().max() < 1e-6


def test_kendall_weighting_is_single_exponential():
    mtl = MultiTaskLoss(2)
    with torch.no_grad():
        mtl.log_vars.copy_(torch.tensor([0.5, -1.0]))
    l1, l2 = torch.tensor(2.0), torch.tensor(0.3)
    expected = math.exp(-0.5) * 2.0 + 0.5 + math.exp(1.0) * 0.3 - 1.0
    assert float(mtl([l1, l2]).detach()) == pytest.approx(expected, rel=1e-6)


def test_losses_mask_nan_targets():
    mean = torch.zeros(2, 3)
    target = torch.tensor([[1.0, float("nan"), 0.0], [0.0, 0.0, float("nan")]])
    nll = gaussian_nll(mean, torch.zeros(2, 3), target)
    assert float(nll) == pytest.approx(0.5 * 1.0 / 4)
    q = quantile_loss(torch.zeros(2, 3, 3), target, (0.1, 0.5, 0.9))
    assert torch.isfinite(q)


def test_quantile_head_never_crosses():
    head = QuantileHead(8, 3, (0.1, 0.25, 0.5, 0.75, 0.9))
    q = head(torch.randn(64, 8) * 10)
    assert (q.diff(dim=-1) >= 0).all()


def test_multi_grn_is_v_independent_grns():
    """The batched (variable-major) MultiGRN equals V separate GRN computations, and its
    weighted sum equals summing the per-variable outputs."""
    import torch.nn.functional as F

    from tradeformer.models.layers import MultiGRN

    torch.manual_seed(0)
    g = MultiGRN(n_vars=5, d_in=4, d_hidden=6, d_out=3, dropout=0.0).eval()
    x = torch.randn(2, 7, 5, 4)
    out = g(x)
    assert out.shape == (2, 7, 5, 3)
    for v in range(5):
        xv = x[..., v, :]
        h = F.elu(xv @ g.w_in[v] + g.b_in[v])
        h = h @ g.w_h[v] + g.b_h[v]
        glu = F.glu(h @ g.w_glu[v] + g.b_glu[v], dim=-1)
        ref = g.norm(xv @ g.w_skip[v] + glu)
        torch.testing.assert_close(out[..., v, :], ref, rtol=1e-5, atol=1e-6)
    w = torch.softmax(torch.randn(2, 7, 5), dim=-1)
    torch.testing.assert_close(g.weighted_sum(x, w), (out * w.unsqueeze(-1)).sum(-2))


def test_checkpointed_multi_grn_gives_the_same_values_and_gradients():
    """Chunked activation checkpointing (`checkpoint_rows`, 14 rows in chunks of 4, the last
    short) changes memory, not the function or its gradients."""
    from tradeformer.models.layers import MultiGRN

    torch.manual_seed(0)
    g = MultiGRN(n_vars=5, d_in=4, d_hidden=6, d_out=3, dropout=0.0).train()
    x = torch.randn(2, 7, 5, 4, requires_grad=True)
    w = torch.softmax(torch.randn(2, 7, 5), dim=-1).requires_grad_()
    results = []
    for rows in (None, 4):
        out = g.weighted_sum(x, w, checkpoint_rows=rows)
        grads = torch.autograd.grad(out.square().sum(), [x, w, *g.parameters()])
        results.append((out, grads))
    (o1, g1), (o2, g2) = results
    torch.testing.assert_close(o2, o1)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(b, a)


@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_tcn_convolution_equals_conv1d(dilation):
    """The matmul form of the dilated convolution is nn.Conv1d's result."""
    from tradeformer.models.layers.tcn import TemporalConvBlock

    torch.manual_seed(0)
    block = TemporalConvBlock(16, 3, dilation)
    x = torch.randn(4, 13, 16)
    ref = block.conv(x.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(block.convolve(x), ref, rtol=1e-5, atol=1e-6)


def test_fast_dropout_is_an_unbiased_bernoulli_mask():
    from tradeformer.models.layers.dropout import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.1).train()
    x = torch.ones(400_000)
    out = drop(x)
    kept = out != 0
    n, rate = x.numel(), 1 - round(0.1 * 65536) / 65536
    assert abs(kept.float().mean().item() - rate) < 4 * (rate * (1 - rate) / n) ** 0.5
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / rate))
    assert abs(out.mean().item() - 1.0) < 0.005  # E[dropout(x)] = x
    # neighbours are independent (four masks come from one random word)
    k = kept.view(-1, 4).float()
    corr = torch.corrcoef(k.T)
    assert (corr - torch.eye(4)).abs().max() < 0.01
    torch.manual_seed(3)
    a = drop(x)
    torch.manual_seed(3)
    assert torch.equal(a, drop(x))  # seeded like nn.Dropout
    x.requires_grad_(True)
    torch.manual_seed(3)
    drop(x).sum().backward()
    assert torch.equal(x.grad, (a != 0).float() / rate)
    assert torch.equal(drop.eval()(x), x)


@pytest.mark.parametrize("name", ["timeformer", "tft"])
def test_eval_outputs_do_not_depend_on_the_dropout_implementation(name, batch):
    """Swapping every fast Dropout for torch's nn.Dropout leaves eval outputs bit-identical
    on a fixed real batch (dropout is the identity there); the training-mode masks agree in
    distribution (tested above on the layer)."""
    from tradeformer.models import build_model
    from tradeformer.models.layers.dropout import Dropout

    torch.manual_seed(0)
    ours = build_model(name, "small", context_dim=batch["context"].shape[-1])
    ref = copy.deepcopy(ours)
    for mod in list(ref.modules()):
        for child_name, child in mod.named_children():
            if isinstance(child, Dropout):
                setattr(mod, child_name, torch.nn.Dropout(child.p))
    assert not any(isinstance(m, Dropout) for m in ref.modules())
    args = (batch["price"], batch["embedding"], batch["context"])
    with torch.no_grad():
        a, b = ours.eval()(*args), ref.eval()(*args)
    assert torch.equal(a.ret, b.ret) and torch.equal(a.dir_logit, b.dir_logit)
