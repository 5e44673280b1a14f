"""Benchmark: our TFT-XL against pytorch-forecasting's TemporalFusionTransformer, same run.

Same hidden size (32), lookback (120 bars), 34 time-varying real variables (5 price + 29
context), 4 heads, 1 LSTM layer, dropout 0.1, 3 quantiles, batch 64; no static covariate on
either side (ours: `embed_dim=0`). Forward + backward + AdamW step, samples/s, best of
interleaved repeats. pytorch-forecasting decodes one step after the 120-step encoder (its
minimum); ours reads the last bar. Ours is measured with per-variable GRNs of width 8 projected
once (`variable_encoder: grn`, `select_dim: 8`), with the paper's VSN (`select_dim=None`, width
32, as theirs), and with the cheaper `linear` variable encoder (no per-variable GRNs). Every
model steps a fused AdamW (as our trainer does; a torch option open to both).

Optional dependency, benchmark only (it pins its own pandas/lightning: use a separate venv):
    python -m venv /tmp/pfv && /tmp/pfv/bin/pip install torch==2.13.0 pytorch-forecasting
    /tmp/pfv/bin/pip install --no-deps -e .
    /tmp/pfv/bin/python benchmarks/tft_vs_pytorch_forecasting.py
"""

from __future__ import annotations

import argparse
import time

import torch

from tradeformer.models import build_model

N_VARS, LOOKBACK, HIDDEN = 34, 120, 32


def pf_model():
    from pytorch_forecasting.metrics import QuantileLoss
    from pytorch_forecasting.models import TemporalFusionTransformer

    names = [f"v{i}" for i in range(N_VARS)]
    model = TemporalFusionTransformer(
        hidden_size=HIDDEN,
        lstm_layers=1,
        attention_head_size=4,
        dropout=0.1,
        hidden_continuous_size=8,
        output_size=3,
        loss=QuantileLoss([0.1, 0.5, 0.9]),
        max_encoder_length=LOOKBACK,
        x_reals=names,
        time_varying_reals_encoder=names,
        time_varying_reals_decoder=names[:1],
    )
    # built without a TimeSeriesDataSet there is no target normaliser: predictions stay in the
    # normalised space (its rescaling is an elementwise op on (B, 1, 3), nothing to time)
    model.transform_output = lambda prediction, target_scale, loss=None: prediction
    return model


def pf_step(model, opt, batch: int):
    g = torch.Generator().manual_seed(0)
    x = {
        "encoder_cont": torch.randn(batch, LOOKBACK, N_VARS, generator=g),
        "decoder_cont": torch.randn(batch, 1, N_VARS, generator=g),
        "encoder_cat": torch.zeros(batch, LOOKBACK, 0, dtype=torch.long),
        "decoder_cat": torch.zeros(batch, 1, 0, dtype=torch.long),
        "encoder_lengths": torch.full((batch,), LOOKBACK, dtype=torch.long),
        "decoder_lengths": torch.ones(batch, dtype=torch.long),
        "target_scale": torch.tensor([[0.0, 1.0]]).expand(batch, 2),
    }
    y = torch.randn(batch, 1, generator=g)

    def step():
        out = model(x)
        loss = model.loss(out["prediction"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def our_step(model, opt, batch: int):
    g = torch.Generator().manual_seed(0)
    price = torch.randn(batch, LOOKBACK, 5, generator=g)
    ctx = torch.randn(batch, LOOKBACK, N_VARS - 5, generator=g)
    ret = torch.randn(batch, 3, generator=g) * 0.02
    direction = (ret > 0).float()

    def step():
        out = model(price, None, ctx, outputs_only=True)  # as the trainer calls it
        loss = model.loss(out, ret, direction)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def ours(**kw):
    return build_model("tft", "small", context_dim=N_VARS - 5, embed_dim=0, **kw)


def rate(step, batch: int, steps: int) -> float:
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    models = {
        "pytorch-forecasting TFT": pf_model(),
        "ours (GRN VSN, width 8)": ours(variable_encoder="grn", select_dim=8),
        "ours (paper VSN, width 32)": ours(variable_encoder="grn", select_dim=None),
        "ours (linear variables)": ours(variable_encoder="linear"),
    }
    steps = {}
    for name, m in models.items():
        m.train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, fused=True)
        make = pf_step if name.startswith("pytorch") else our_step
        steps[name] = make(m, opt, args.batch)
    best = dict.fromkeys(models, 0.0)
    for _ in range(args.repeats):  # interleaved: machine drift hits every model alike
        for name, step in steps.items():
            best[name] = max(best[name], rate(step, args.batch, args.steps))
    print(f"threads={torch.get_num_threads()} torch={torch.__version__} batch={args.batch}")
    ref = best["pytorch-forecasting TFT"]
    for name, r in best.items():
        n = sum(p.numel() for p in models[name].parameters())
        print(f"{name:<30}{n:>10,} params{r:>10.0f} samples/s{r / ref:>8.2f}x")


if __name__ == "__main__":
    main()
