"""TFT-XL's variable encoder: the paper's per-variable GRNs next to the cheaper `linear` variant.

`variable_encoder: linear` (models/layers/vsn.py) replaces the 34 per-variable GRNs by one
affine map per variable; the selection weights are computed as before. This trains TFT-XL
`small` once per encoder on the last walk-forward fold of a config (same rows, seed, sample
budget, early stopping), in the raw mode and in the cross-sectional mode
(`benchmarks/cs_variants.py`'s variants), and scores both on the test period: mean per-date
rank IC per horizon with its block-bootstrap CI and Newey-West t, the long-short Sharpe, the
direction head's AUC and accuracy next to the majority rate (first horizon, with CIs), and the
training time. `linear x3` gets three times the samples (about the grn run's wall time).

Usage: python benchmarks/tft_variable_encoder.py [--config configs/daily100.yaml]
       [--modes raw,cs_rank+norm+dates] [--samples 20000] [--epochs 3] [--out tft_encoder.csv]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch
from cs_variants import VARIANTS, run_variant  # benchmarks/ is the script's directory

from tradeformer.config import load_config
from tradeformer.dataset.prepare import prepare_data

ENCODERS = {"grn": ("grn", 1), "linear": ("linear", 1), "linear x3": ("linear", 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/daily100.yaml")
    ap.add_argument("--modes", default="raw,cs_rank+norm+dates")
    ap.add_argument("--encoders", default="grn,linear,linear x3")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--eval-samples", type=int, default=25000)
    ap.add_argument("--out", default="tft_encoder.csv")
    ap.add_argument("--work", default="runs/tft_encoder")
    args = ap.parse_args()
    args.model = "tft"
    base = load_config(args.config)
    torch.set_num_threads(base.training.num_threads or torch.get_num_threads())
    data = prepare_data(base, progress=False)
    u, cal = data.universe, data.calendar
    test_rows = u.rows_between(cal.test_start, cal.test_end)
    rows = []
    for mode in args.modes.split(","):
        for enc_name in args.encoders.split(","):
            encoder, factor = ENCODERS[enc_name]
            tft = base.models["tft"]
            over = {**tft.overrides, "variable_encoder": encoder}
            choice = tft.model_copy(update={"overrides": over})
            cfg = base.model_copy(update={"models": {**base.models, "tft": choice}})
            spec = {**VARIANTS[mode], "samples_factor": factor}
            name = f"{mode} | {enc_name}"
            row = run_variant(name, spec, u, cfg, cal.folds[-1], test_rows, args, Path(args.work))
            row.update(mode=mode, encoder=enc_name, samples=args.samples * factor * args.epochs)
            rows.append(row)
            print(json.dumps(row, default=float), flush=True)
            pd.DataFrame(rows).to_csv(args.out, index=False)
    df = pd.DataFrame(rows)
    cols = ["mode", "encoder", "samples", "minutes", "best_val_rank_ic"] + [
        c
        for c in df.columns
        if c.startswith(("ic_", "nw_t_", "ls_sharpe_", "auc_", "accuracy_", "majority_rate_"))
        and "ci" not in c
    ]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
