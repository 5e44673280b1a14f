"""Benchmark: TimeFormer-XL and TFT-XL, `small` and `spec` presets.

Training throughput (forward + backward + AdamW step, samples/s, batch 64) and inference
latency (batch 1 and 256). References in the same run: a plain MLP over the same flattened
inputs (120 x 34 + 512 -> 256 -> 256 -> 9), so ratios survive a change of machine, and each
network as it trained before (torch's `nn.Dropout` in place of ours, `layers/dropout.py`, and
every bar's outputs computed, `outputs_only=False`): "before".
Usage: python benchmarks/models.py [--device cuda] [--bf16] [--compile] [--presets small,spec]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from tradeformer.models import build_model, count_parameters
from tradeformer.models.layers.dropout import Dropout


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


def with_torch_dropout(model: nn.Module) -> nn.Module:
    """A copy whose dropout layers are torch's own (the code before the fast masks)."""
    model = copy.deepcopy(model)
    for mod in list(model.modules()):
        for name, child in mod.named_children():
            if isinstance(child, Dropout):
                setattr(mod, name, nn.Dropout(child.p))
    return model


def inputs(batch: int, device: str):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(batch, 120, 5, generator=g).to(device)
    e = torch.randn(batch, 512, generator=g).to(device)
    c = torch.randn(batch, 120, 29, generator=g).to(device)
    return p, e, c


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_train(model, device, bf16, batch=64, steps=5, last_only=True) -> float:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    p, e, c = inputs(batch, device)
    ret = torch.randn(batch, 3, device=device) * 0.02
    d = (ret > 0).float()

    def step():
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            if hasattr(model, "loss"):  # as the trainer calls it: the last bar's outputs only
                loss = model.loss(model(p, e, c, outputs_only=last_only), ret, d)[0]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--presets", default="small,spec")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(
        f"device={args.device} bf16={args.bf16} compile={args.compile} "
        f"threads={torch.get_num_threads()} torch={torch.__version__}"
    )
    print(
        f"{'model':<22}{'params':>12}{'train samples/s':>17}{'lat b=1 ms':>12}"
        f"{'lat b=256 ms':>14}{'train vs MLP':>14}{'before s/s':>12}{'now/before':>12}"
    )
    ref = FlatMLP().to(args.device)
    ref_train = bench_train(ref, args.device, args.bf16)
    ref_l1 = bench_latency(ref, args.device, args.bf16, 1, 20)
    ref_l256 = bench_latency(ref, args.device, args.bf16, 256, 5)
    print(
        f"{'reference MLP':<22}{count_parameters(ref):>12,}{ref_train:>17.0f}"
        f"{ref_l1:>12.2f}{ref_l256:>14.1f}{1.0:>14.2f}"
    )
    for preset in args.presets.split(","):
        for name in ("timeformer", "tft"):
            model = build_model(name, preset).to(args.device)
            n = count_parameters(model)
            if args.compile:
                model = torch.compile(model)
            steps = 3 if preset == "spec" else 8
            before = with_torch_dropout(model)
            tr_before, tr = 0.0, 0.0
            for _ in range(1 if preset == "spec" else 3):  # interleaved: drift hits both alike
                tr_before = max(
                    tr_before,
                    bench_train(before, args.device, args.bf16, steps=steps, last_only=False),
                )
                tr = max(tr, bench_train(model, args.device, args.bf16, steps=steps))
            l1 = bench_latency(model, args.device, args.bf16, 1, 10)
            l256 = bench_latency(model, args.device, args.bf16, 256, 2)
            print(
                f"{name + ' ' + preset:<22}{n:>12,}{tr:>17.0f}{l1:>12.2f}{l256:>14.1f}"
                f"{tr / ref_train:>14.3f}{tr_before:>12.0f}{tr / tr_before:>12.2f}"
            )


if __name__ == "__main__":
    main()
