"""Seed averaging of a network: the mean of its copies' outputs, saved as one state dict and
rebuilt from the manifest entry with the same outputs."""

from __future__ import annotations

import torch

from tradeformer.models import build_model
from tradeformer.models.persist import load_member, member_files, save_member
from tradeformer.models.registry import describe_model
from tradeformer.models.seeds import SeedAverage

TINY = {"d_model": 16, "n_heads": 2, "ffn_dim": 32, "n_layers": 1, "embed_dim": 8}


def _inputs(b=4, length=120, c=29):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(b, length, 5, generator=g),
        torch.randn(b, 8, generator=g),
        torch.randn(b, length, c, generator=g),
    )


def test_seed_average_is_the_mean_of_its_networks_and_reloads(tmp_path):
    nets = []
    for s in (0, 1, 2):
        torch.manual_seed(s)
        nets.append(build_model("timeformer", "small", **TINY).eval())
    avg = SeedAverage(nets).eval()
    price, emb, ctx = _inputs()
    with torch.no_grad():
        outs = [n(price, emb, ctx, outputs_only=True) for n in nets]
        got = avg(price, emb, ctx)
    torch.testing.assert_close(got.ret, torch.stack([o.ret for o in outs]).mean(0))
    torch.testing.assert_close(got.dir_logit, torch.stack([o.dir_logit for o in outs]).mean(0))
    assert avg.veto_diagnostics == type(nets[0]).veto_diagnostics
    entry = describe_model("timeformer", avg)
    assert entry["seeds"] == 3 and member_files("timeformer", entry) == ["timeformer.safetensors"]
    save_member(avg, tmp_path, "timeformer")
    back = load_member(entry, tmp_path, "timeformer")
    assert isinstance(back, SeedAverage) and back.seeds == 3
    with torch.no_grad():
        torch.testing.assert_close(back(price, emb, ctx).ret, got.ret, rtol=0, atol=0)


def test_one_seed_is_the_plain_network(tmp_path):
    net = build_model("tft", "small", hidden=8, n_heads=2, var_dim=4, select_dim=4, embed_dim=8)
    entry = describe_model("tft", net)
    assert "seeds" not in entry
    save_member(net, tmp_path, "tft")
    assert type(load_member(entry, tmp_path, "tft")) is type(net)
