"""Benchmark: TimeFormer-XL and TFT-XL, `small` and `spec` presets, now and at an earlier commit.

Training throughput (forward + backward + AdamW step as the trainer takes it, samples/s,
batch 64) and inference latency (batch 1 and 256). References in the same run, so that ratios
survive a change of machine: a plain MLP over the same flattened inputs (120 x 34 + 512 -> 256
-> 256 -> 9), and each network as the code at `--before` (a git revision; default the commit
before this round of speed work) builds and trains it (foreach AdamW there, fused here), with
the same weights: the benchmark first checks that both give the same outputs on the batch.
TFT-XL is measured with the paper's per-variable GRNs (`variable_encoder: grn`) and with the
cheaper named variant (`linear`, the `small` default now), whose "before" is the GRN network.

Usage: python benchmarks/models.py [--device cuda] [--bf16] [--compile] [--presets small,spec]
       [--before e3da163 | --before none]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import torch
from revisions import source_at
from torch import nn

from tradeformer.models import build_model, count_parameters

ROOT = Path(__file__).resolve().parents[1]


class FlatMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(120 * 34 + 512, 256),
            nn.GELU(),
            nn.Linear(256, 256),
            nn.GELU(),
            nn.Linear(256, 9),
        )

    def forward(self, price, embedding, context):
        x = torch.cat([price.flatten(1), context.flatten(1), embedding], dim=1)
        return self.net(x)


def builder_at(rev: str):
    """`build_model` of the package as it was at git revision `rev`, imported next to today's
    (its modules live under their own names in a separate sys.modules generation)."""
    src = str(source_at(rev))
    current = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "tradeformer"}
    for k in current:
        del sys.modules[k]
    sys.path.insert(0, src)
    try:
        return importlib.import_module("tradeformer.models").build_model
    finally:
        sys.path.remove(src)
        for k in [k for k in sys.modules if k.split(".")[0] == "tradeformer"]:
            del sys.modules[k]
        sys.modules.update(current)


def inputs(batch: int, device: str):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(batch, 120, 5, generator=g).to(device)
    e = torch.randn(batch, 512, generator=g).to(device)
    c = torch.randn(batch, 120, 29, generator=g).to(device)
    return p, e, c


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_train(model, device, bf16, batch=64, steps=5, fused=True) -> float:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
    p, e, c = inputs(batch, device)
    ret = torch.randn(batch, 3, device=device) * 0.02
    d = (ret > 0).float()

    def step():
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            if hasattr(model, "loss"):  # as the trainer calls it: the last bar's outputs only
                loss = model.loss(model(p, e, c, outputs_only=True), ret, d)[0]
            else:
                loss = model(p, e, c).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * steps / (time.perf_counter() - t0)


@torch.no_grad()
def bench_latency(model, device, bf16, batch, reps) -> float:
    model.eval()
    p, e, c = inputs(batch, device)
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
        model(p, e, c)
        sync(device)
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            model(p, e, c)
            sync(device)
            best = min(best, time.perf_counter() - t0)
    return best * 1000


@torch.no_grad()
def max_output_gap(a: nn.Module, b: nn.Module, device: str) -> float:
    """Largest |difference| of the return and direction outputs (eval mode, batch of 8)."""
    p, e, c = inputs(8, device)
    oa, ob = a.eval()(p, e, c), b.eval()(p, e, c)
    gaps = [(oa.ret - ob.ret).abs().max(), (oa.dir_logit - ob.dir_logit).abs().max()]
    return float(max(gaps))


def measure(model, before, args, preset: str) -> tuple[float, float]:
    """(now, before) training samples/s, interleaved so that drift hits both alike."""
    steps, rounds = (3, 1) if preset == "spec" else (8, 3)
    now_best, before_best = 0.0, 0.0
    for _ in range(rounds):
        if before is not None:
            b = bench_train(before, args.device, args.bf16, steps=steps, fused=False)
            before_best = max(before_best, b)
        now_best = max(now_best, bench_train(model, args.device, args.bf16, steps=steps))
    return now_best, before_best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--presets", default="small,spec")
    ap.add_argument("--before", default="e3da163", help="git revision, or 'none'")
    args = ap.parse_args()
    torch.manual_seed(0)
    old_build = None if args.before == "none" else builder_at(args.before)
    print(
        f"device={args.device} bf16={args.bf16} compile={args.compile} "
        f"threads={torch.get_num_threads()} torch={torch.__version__} before={args.before}"
    )
    print(
        f"{'model':<24}{'params':>11}{'train s/s':>11}{'lat b=1 ms':>12}{'lat b=256 ms':>14}"
        f"{'vs MLP':>8}{'before s/s':>12}{'now/before':>12}{'out gap':>10}"
    )
    ref = FlatMLP().to(args.device)
    ref_train = bench_train(ref, args.device, args.bf16)
    ref_l1 = bench_latency(ref, args.device, args.bf16, 1, 20)
    ref_l256 = bench_latency(ref, args.device, args.bf16, 256, 5)
    print(
        f"{'reference MLP':<24}{count_parameters(ref):>11,}{ref_train:>11.0f}"
        f"{ref_l1:>12.2f}{ref_l256:>14.1f}{1.0:>8.2f}"
    )
    grn, linear = {"variable_encoder": "grn"}, {"variable_encoder": "linear"}
    variants = [("timeformer", {}, ""), ("tft", grn, " grn"), ("tft", linear, " linear")]
    for preset in args.presets.split(","):
        for name, kw, suffix in variants:
            torch.manual_seed(0)
            model = build_model(name, preset, **kw).to(args.device)
            before, gap = None, float("nan")
            if old_build is not None:
                try:  # revisions since the variable-encoder switch take it
                    before = old_build(name, preset, **kw).to(args.device)
                except (TypeError, ValueError):
                    before = old_build(name, preset).to(args.device)
                if before.state_dict().keys() == model.state_dict().keys():
                    # same architecture: same weights, the outputs must agree
                    before.load_state_dict(model.state_dict())
                    gap = max_output_gap(model, before, args.device)
            n = count_parameters(model)
            if args.compile:
                model = torch.compile(model)
            tr, tr_before = measure(model, before, args, preset)
            l1 = bench_latency(model, args.device, args.bf16, 1, 10)
            l256 = bench_latency(model, args.device, args.bf16, 256, 2)
            label = f"{name} {preset}{suffix}"
            ratio = tr / tr_before if tr_before else float("nan")
            print(
                f"{label:<24}{n:>11,}{tr:>11.0f}{l1:>12.2f}{l256:>14.1f}{tr / ref_train:>8.3f}"
                f"{tr_before:>12.0f}{ratio:>12.2f}{gap:>10.1e}"
            )


if __name__ == "__main__":
    main()
