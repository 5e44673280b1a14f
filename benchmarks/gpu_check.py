"""GPU check: the networks' training throughput in the pipeline's own step, and a spec-size
cross-sectional run, written as one JSON (`--out DIR/gpu_check.json`).

On a machine with one GPU, from a checkout (about 8 minutes on an H100/H200):

    python benchmarks/gpu_check.py --data /path/to/daily --out gpu_out

1. Throughput: TimeFormer-XL spec, TFT-XL spec (GRN and linear variable encoders), one
   optimiser step of `tradeformer.training.step.TrainStep` (fused AdamW, bf16 autocast, the
   model's loss and the per-date correlation term) on device tensors at batch 64 / 512 / 2,048,
   eager, and compiled (`torch.compile`) at `--compile-batches`: samples/s, compile seconds and
   peak device memory (an out-of-memory is recorded, not fatal).
2. Pipeline: `configs/daily100_cs.yaml` with both networks at the spec presets, batch 2,048 (the
   learning rate sqrt-scaled from the config's 256), bf16, inputs on the device, on the bars in
   `--data` (one file per symbol, e.g. ../shared/data/daily): per-stage seconds, per member and
   fold samples/s, input-wait share and peak memory (`deep/fits.json`), and the test period's
   mean per-date rank IC of each member and of the ensemble.

`--device cpu --quick` runs both parts at a tiny budget (small presets, a few symbols) so that
the script itself is tested (tests/benchmarks/test_gpu_check.py).

A GPU box often has torch + CUDA and nothing else of ours. `--wheels` prints the pip command
that downloads the other dependencies (pyproject's list without torch) as wheels for Python
3.12; install them there with `pip install --no-index --find-links wheels/ ...` and run from
the checkout with `PYTHONPATH=src`. The script names any missing module before it starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("numpy", "pandas", "pyarrow", "exchange_calendars", "typer", "rich", "pydantic",
           "yaml", "talib", "safetensors", "lightgbm", "scipy", "matplotlib")  # fmt: skip


def wheels_command() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = " ".join(f"'{d}'" for d in deps if not d.startswith("torch"))
    return (
        "python3 -m pip download --only-binary=:all: --python-version 3.12 "
        f"--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d wheels {names}"
    )


def missing_modules() -> list[str]:
    return [m for m in MODULES if importlib.util.find_spec(m) is None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="folder of daily bars, one file per symbol")
    ap.add_argument("--out", type=Path, default=Path("gpu_check_out"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny budget (a test of the script)")
    ap.add_argument("--batches", default="64,512,2048")
    ap.add_argument("--compile-batches", default="2048", help="'' for none")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--wheels", action="store_true", help="print the wheel download command")
    args = ap.parse_args()
    if args.wheels:
        print(wheels_command())
        return
    if missing := missing_modules():
        sys.exit(f"missing modules: {', '.join(missing)}; bring wheels:\n  {wheels_command()}")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "environment": environment(args.device),
        "args": vars(args) | {"data": str(args.data), "out": str(args.out)},
    }
    t0 = time.perf_counter()
    result["throughput"] = throughput(args)
    _write(args.out, result)
    if not args.skip_pipeline:
        if args.data is None:
            sys.exit("--data DIR is needed for the pipeline part (or --skip-pipeline)")
        result["pipeline"] = pipeline_run(args)
    result["seconds"] = time.perf_counter() - t0
    path = _write(args.out, result)
    print(f"wrote {path} in {result['seconds']:.0f} s")


def environment(device: str) -> dict:
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    env["threads"] = torch.get_num_threads()
    return env


def _write(out: Path, result: dict) -> Path:
    path = out / "gpu_check.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


# ------------------------------------------------------------------------------ throughput
def throughput(args) -> list[dict]:
    """Training samples/s of each network at each batch, eager and (at --compile-batches)
    compiled, in the pipeline's own optimiser step."""
    preset = "small" if args.quick else "spec"
    batches = [16, 64] if args.quick else [int(b) for b in args.batches.split(",")]
    compiled = {int(b) for b in args.compile_batches.split(",") if b.strip()}
    variants = [("timeformer", {}), ("tft", {"variable_encoder": "grn"})]
    variants.append(("tft", {"variable_encoder": "linear"}))
    rows = []
    for name, kw in variants:
        for batch in batches:
            for comp in (False, True) if batch in compiled else (False,):
                row = _step_rate(name, kw, preset, batch, comp, args)
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def _step_rate(name: str, kw: dict, preset: str, batch: int, comp: bool, args) -> dict:
    import torch

    from tradeformer.config import TrainingConfig
    from tradeformer.models import build_model, count_parameters
    from tradeformer.training.devices import peak_memory_bytes, reset_peak_memory, synchronize
    from tradeformer.training.optim import build_optimiser
    from tradeformer.training.step import TrainStep

    dev = args.device
    steps = 2 if args.quick else args.steps
    label = f"{name} {preset}" + (f" {kw['variable_encoder']}" if kw else "")
    row = {"model": label, "batch": batch, "compiled": comp}
    torch.manual_seed(0)
    model = build_model(name, preset, **kw).to(dev)
    cfg = TrainingConfig(
        batch_size=batch, epochs=1, device=dev, compile=comp, rank_loss_weight=0.5,
        precision="bf16" if dev.startswith("cuda") else "fp32",
    )  # fmt: skip
    optim = build_optimiser(model, cfg, dev, steps_per_epoch=steps + 3)
    step = TrainStep(model, model, optim, cfg, dev)
    b = _synthetic_batch(model, batch, dev)
    row["params"] = count_parameters(model)
    try:
        reset_peak_memory(dev)
        t0 = time.perf_counter()
        for _ in range(2):  # warm-up (and the compile)
            step(b)
            optim[1].step()
        synchronize(dev)
        row["first_steps_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(steps):
            step(b)
            optim[1].step()
        synchronize(dev)
        row["samples_per_s"] = batch * steps / (time.perf_counter() - t0)
        row["peak_memory_gib"] = peak_memory_bytes(dev) / 2**30
    except torch.OutOfMemoryError:
        row["out_of_memory"] = True
    del model, optim, step, b
    if dev.startswith("cuda"):
        torch.cuda.empty_cache()
    return row


def _synthetic_batch(model, batch: int, device: str):
    import torch

    from tradeformer.training.inputs import Batch

    c = model.config
    g = torch.Generator().manual_seed(0)
    ret = torch.randn(batch, c.n_horizons, generator=g)
    tensors = {
        "price": torch.randn(batch, c.lookback, 5, generator=g) * 0.02,
        "embedding": torch.randn(batch, c.embed_dim, generator=g),
        "context": torch.randn(batch, c.lookback, c.context_dim, generator=g),
        "ret": ret * 0.02,
        "dir": (ret > 0).float(),
    }
    tensors = {k: v.to(device) for k, v in tensors.items()}
    groups = torch.arange(batch, device=device) // 100  # ~100 names a date
    return Batch(tensors, groups, int(groups[-1]) + 1, batch)


# -------------------------------------------------------------------------------- pipeline
def pipeline_run(args) -> dict:
    """configs/daily100_cs.yaml at the spec presets (or, --quick, a tiny budget) on --data:
    stage seconds, per-fit throughput and the test period's per-date rank IC."""
    from tradeformer.config import load_config
    from tradeformer.stages.pipeline import run_training

    over = _quick_overrides(args.data) if args.quick else _spec_overrides(args.device)
    cfg = load_config(
        ROOT / "configs" / "daily100_cs.yaml", {"data.source": str(args.data), **over}
    )
    run_dir = args.out / "run"
    t0 = time.perf_counter()
    summary = run_training(cfg, run_dir=run_dir, progress=not args.quick)
    return {
        "overrides": over,
        "seconds": time.perf_counter() - t0,
        "stage_seconds": summary["stage_seconds"],
        "fits": summary.get("fits", []),
        "test_date_rank_ic": _test_rank_ic(run_dir, cfg.features.horizons),
    }


def _spec_overrides(device: str) -> dict:
    member = {"epochs": 3, "max_samples_per_epoch": 120_000, "max_eval_samples": 25_000}
    return {
        "models.timeformer.preset": "spec",
        "models.tft.preset": "spec",
        "models.tft.training": member,
        "models.timeformer.training": member,
        "training.device": device,
        "training.precision": "bf16" if device.startswith("cuda") else "fp32",
        "training.batch_size": 2048,
        "training.lr_reference_batch": 256,  # the config's batch: the rates sqrt-scaled
        "training.inputs": "auto",
        "training.num_threads": None,
    }


def _quick_overrides(data: Path) -> dict:
    import pandas as pd

    files = sorted(p for p in data.iterdir() if p.suffix in (".parquet", ".csv"))[:6]
    read = pd.read_parquet if files[0].suffix == ".parquet" else pd.read_csv
    ts = pd.to_datetime(read(files[0])["timestamp"])
    tiny = {"d_model": 16, "n_heads": 2, "ffn_dim": 32, "n_layers": 1}
    return {
        "data.symbols": [p.stem for p in files],
        "embedding.local_steps": 15,
        "calendar.test_start": str(ts.iloc[-150].date()),
        "calendar.n_folds": 2,
        "calendar.val_bars": 120,
        "models.timeformer.overrides": tiny,
        "models.tft.overrides": {"hidden": 8, "n_heads": 2, "var_dim": 4, "select_dim": 4},
        "models.tft.training": {"epochs": 1},
        "models.timeformer.training": {"epochs": 1},
        "training.lookback": 60,
        "training.batch_size": 64,
        "training.max_samples_per_epoch": 256,
        "training.max_eval_samples": 200,
        "training.num_threads": 1,
        "veto.num_boost_round": 30,
    }


def _test_rank_ic(run_dir: Path, horizons) -> dict:
    """Mean per-date rank IC of each member's and the ensemble's forecast against the
    realised return on the test period, per horizon."""
    import pandas as pd

    from tradeformer.stats.ranking import per_date_rank_ic

    d = pd.read_parquet(run_dir / "test_predictions.parquet")
    out = {}
    for h in horizons:
        scores = [c for c in d.columns if c.endswith(f"_ret_{h}") and c != f"ret_{h}"]
        ok = d[f"ret_{h}"].notna()
        out[f"h{h}"] = {
            c.removesuffix(f"_ret_{h}"): float(
                per_date_rank_ic(d.loc[ok, c], d.loc[ok, f"ret_{h}"], d.loc[ok, "timestamp"]).mean()
            )
            for c in scores
        }
    return out


if __name__ == "__main__":
    main()
