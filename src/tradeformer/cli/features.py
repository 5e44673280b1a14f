"""`tradeformer features build | embed` and `tradeformer dataset build`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from tradeformer.cli.app import dataset_app, features_app
from tradeformer.cli.console import console
from tradeformer.cli.data import store_root
from tradeformer.cli.options import (
    ConfigOpt,
    DataOpt,
    SchedulerOpt,
    SetOpt,
    load_experiment,
    scheduler_execution,
)
from tradeformer.config import EmbeddingConfig, FeatureConfig, TrainingConfig
from tradeformer.errors import ConfigError, InputError

# the defaults are the config's own (declared once, in `tradeformer.config`)
FEATURES, EMBEDDING = FeatureConfig.model_fields, EmbeddingConfig.model_fields
LOOKBACK = TrainingConfig.model_fields["lookback"].default


def _symbols(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",")] if text else None


@features_app.command("build")
def features_build(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Output directory for feature tables.")],
    timeframe: Annotated[
        str | None, typer.Option(help="Bars to compute on (default: the store's base).")
    ] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated subset of symbols.")] = None,
    horizons: Annotated[str, typer.Option(help="Label horizons in bars.")] = ",".join(
        map(str, FEATURES["horizons"].default)
    ),
    label_kind: Annotated[str, typer.Option(help="log or simple returns.")] = FEATURES[
        "label_kind"
    ].default,
    intraday: Annotated[
        bool, typer.Option("--intraday/--no-intraday", help="MTF 4H/1H from intraday bars.")
    ] = FEATURES["use_intraday"].default,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Compute features + labels per symbol (cached: only changed symbols are recomputed)."""
    from tradeformer.config import ExecutionConfig
    from tradeformer.execution import engine_scope
    from tradeformer.features.pipeline import build_features

    try:
        cfg = FeatureConfig(
            timeframe=timeframe,
            horizons=tuple(int(h) for h in horizons.split(",")),
            label_kind=label_kind,
            use_intraday=intraday,
        )
    except (ValidationError, ValueError) as e:
        raise ConfigError(f"features build options: {e}") from None
    execution = scheduler_execution(scheduler) or ExecutionConfig(workers=workers)
    with engine_scope(execution) as engine:
        m = build_features(store_root(data), out, cfg, symbols=_symbols(symbols), engine=engine)
    lb = m["last_build"]
    unavailable = sorted(
        {tf for e in m["symbols"].values() for tf, ok in e["mtf"]["available"].items() if not ok}
    )
    console.print(
        f"[green]features[/] {len(m['symbols'])} symbol(s) ({m['timeframe']}) in {out}: "
        f"{lb['computed']} computed, {lb['reused']} reused from cache; "
        f"{len(m['columns'])} columns + {len(m['label_columns'])} labels, "
        f"warm-up {m['warmup_bars']} bars"
    )
    if unavailable:
        console.print(
            f"[yellow]note[/] MTF {', '.join(unavailable)} unavailable for some symbols "
            "(no intraday bars): those columns are 0 and flagged in manifest.json"
        )


@features_app.command("embed")
def features_embed(
    data: DataOpt,
    backend: Annotated[str, typer.Option(help="local | chronos | kronos | none")] = EMBEDDING[
        "backend"
    ].default,
    out: Annotated[Path, typer.Option("--out", help="Embedding cache directory.")] = Path(
        "embeddings"
    ),
    timeframe: Annotated[str | None, typer.Option(help="Default: the store's base.")] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated subset.")] = None,
    lookback: Annotated[int, typer.Option(help="Bars per window (ending at t).")] = LOOKBACK,
    model_id: Annotated[
        str | None, typer.Option(help="Hub id or local directory (chronos / kronos).")
    ] = None,
    tokenizer_id: Annotated[str | None, typer.Option(help="Kronos tokenizer id/dir.")] = None,
    train_end: Annotated[
        str | None,
        typer.Option(help="local: last date of the training period (default: 60 % point)."),
    ] = None,
    steps: Annotated[int, typer.Option(help="local: training steps.")] = EMBEDDING[
        "local_steps"
    ].default,
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = EMBEDDING[
        "batch_size"
    ].default,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    scheduler: SchedulerOpt = None,
) -> None:
    """512-D foundation-model embedding of every bar (cached; reruns embed only new bars)."""
    from tradeformer.execution import engine_scope
    from tradeformer.features.foundation import BACKENDS, build_embeddings
    from tradeformer.features.foundation.local import LocalEncoderConfig

    if backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    root = store_root(data)
    with engine_scope(scheduler_execution(scheduler)) as engine:  # default: this process
        m = build_embeddings(
            root,
            out,
            backend,
            timeframe=timeframe,
            symbols=_symbols(symbols),
            lookback=lookback,
            batch_size=batch_size,
            train_end=train_end,
            local_config=LocalEncoderConfig(lookback=lookback, steps=steps),
            model_id=model_id,
            tokenizer_id=tokenizer_id,
            device=device,
            engine=engine,
        )
    lb = m["last_build"]
    console.print(
        f"[green]embeddings[/] {m['backend']} (dim {m['dim']}) for {lb['symbols']} symbol(s) in "
        f"{m['path']}: {lb['windows_computed']:,} windows computed"
    )
    held = m["describe"].get("heldout")
    if held:
        console.print(
            f"local encoder: held-out masked-patch MSE {held['masked_mse']:.3f} vs naive "
            f"baselines zeros {held['zeros']:.3f}, visible mean {held['visible_mean']:.3f}, "
            f"interpolation {held['interpolation']:.3f} (trained up to {m['train_end']})"
        )


@dataset_app.command("build")
def dataset_build(config: ConfigOpt, sets: SetOpt = None) -> None:
    """Store, features, embeddings and the 541-D + label table (Parquet, one part per symbol)."""
    from tradeformer.stages.pipeline import run_training

    cfg = load_experiment(config, sets)
    run_training(cfg.model_copy(update={"write_dataset_table": True}), stages=("data",))
    console.print(f"[green]dataset[/] written under {cfg.cache_dir}/dataset/")
