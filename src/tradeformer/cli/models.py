"""`tradeformer models summary`: parameter counts of every registered member kind."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tradeformer.cli.app import models_app
from tradeformer.cli.console import console
from tradeformer.errors import InputError

BRIEF = ("d_model", "n_layers", "n_heads", "ffn_dim", "hidden", "lstm_layers", "attn_layers")


@models_app.command("summary")
def models_summary(
    presets: Annotated[str, typer.Option(help="Comma-separated presets.")] = "small,spec",
    detail: Annotated[bool, typer.Option(help="Parameters per component.")] = False,
) -> None:
    """Real parameter counts of each registered network per preset (the spec's 8M / 6M are
    estimates)."""
    from tradeformer.models import REGISTRY, build_model, count_parameters, parameter_table

    t = Table(title="registered ensemble members")
    for col in ("kind", "preset", "parameters", "config"):
        t.add_column(col)
    for preset in (p.strip() for p in presets.split(",")):
        for kind, spec in REGISTRY.items():
            if preset not in spec.presets:
                raise InputError(f"{kind} has no preset {preset!r}; it has {spec.presets}")
            m = build_model(kind, preset)
            cfg = m.config.to_dict()
            if spec.tabular:  # trees, fitted per fold: no parameter count before training
                keys = ("objective", "num_leaves", "learning_rate", "num_boost_round", "inputs")
                brief = ", ".join(f"{k}={cfg[k]}" for k in keys)
                t.add_row(f"{kind} ({spec.title})", preset, "trees", brief)
                continue
            brief = ", ".join(f"{k}={cfg[k]}" for k in (*BRIEF, "var_dim", "lookback") if k in cfg)
            t.add_row(f"{kind} ({spec.title})", preset, f"{count_parameters(m):,}", brief)
            if detail:
                for comp, n in parameter_table(m).items():
                    if n:
                        t.add_row("", f"  {comp}", f"{n:,}", "")
    console.print(t)
