"""Options several commands share, and turning `--config` / `--set` into an experiment."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml

from tradeformer.errors import InputError

ConfigOpt = Annotated[Path, typer.Option("--config", help="Experiment YAML (see configs/).")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value: --set training.epochs=2 (repeatable)."),
]
PolicyOpt = Annotated[
    str,
    typer.Option(
        "--policy",
        help="reject: fail on any error (default). repair: drop bad rows, sort, and report.",
    ),
]
MinBarsOpt = Annotated[
    int, typer.Option("--min-bars", help="Minimum bars per symbol (the model lookback).")
]
TzOpt = Annotated[
    str, typer.Option("--tz", help="Time zone of intraday timestamps written without one.")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Bars stamped after this time are errors (timestamp_in_the_future); default now.",
    ),
]
DataOpt = Annotated[
    Path,
    typer.Option(
        "--data",
        help="A bar store, or a CSV/Parquet file or folder of bars (validated and imported "
        "once into .tradeformer_cache/stores/).",
    ),
]
AblationOpt = Annotated[
    str,
    typer.Option(
        "--ablations",
        help="Comma list of retrained variants (no_embedding,no_mtf,no_smc,no_ta), 'all' or "
        "'none'.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run the per-symbol stages on Dask: a scheduler address (tcp://host:8786) or "
        "'local' (a LocalCluster, one worker per core). Default: the config's `execution` "
        "(a local process pool).",
    ),
]
RunDirArg = Annotated[Path, typer.Argument(help="A training run directory (runs/<id>).")]
TrackOpt = Annotated[
    bool,
    typer.Option(
        "--track",
        help="Log to MLflow (tracking.uri, default sqlite:///<runs_dir>/mlflow.db; "
        "needs pip install -e '.[track]').",
    ),
]
CostOpt = Annotated[float, typer.Option(help="Transaction cost per side (bps).")]


def parse_sets(sets: list[str] | None) -> dict:
    """--set key=value pairs; values are YAML scalars/lists, except that dates stay strings."""
    out = {}
    for item in sets or []:
        if "=" not in item:
            raise InputError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        value = yaml.safe_load(v)
        out[k.strip()] = v.strip() if isinstance(value, datetime.date) else value
    return out


def load_experiment(config: Path, sets: list[str] | None):
    from tradeformer.config import load_config

    return load_config(config, parse_sets(sets))


def check_policy(policy: str) -> None:
    if policy not in ("reject", "repair"):
        raise InputError(f"--policy must be 'reject' or 'repair', not {policy!r}")


def ablation_list(text: str) -> tuple[str, ...]:
    """`none`, `all`, or a comma list of retrained ablations."""
    from tradeformer.evaluation.ablations import RETRAINED

    text = text.strip().lower()
    if text in ("", "none"):
        return ()
    if text == "all":
        return RETRAINED
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in RETRAINED]
    if bad:
        raise InputError(
            f"unknown ablation(s) {', '.join(bad)}; choose from {', '.join(RETRAINED)}"
        )
    return names


def scheduler_execution(scheduler: str | None):
    """The `execution` section a --scheduler value asks for (None: leave the config's)."""
    from tradeformer.config import ExecutionConfig

    if scheduler is None:
        return None
    address = None if scheduler.strip().lower() == "local" else scheduler.strip()
    if address is not None and "://" not in address and ":" not in address:
        raise InputError(f"--scheduler {scheduler!r}: give tcp://host:port or 'local'")
    return ExecutionConfig(engine="dask", address=address)


def with_scheduler(cfg, scheduler: str | None):
    """`cfg` with its per-symbol stages on the --scheduler's Dask cluster, if one is given."""
    execution = scheduler_execution(scheduler)
    return cfg if execution is None else cfg.model_copy(update={"execution": execution})


def with_tracking(cfg):
    """The config with MLflow tracking switched on (`--track`)."""
    tracking = cfg.tracking.model_copy(update={"enabled": True})
    return cfg.model_copy(update={"tracking": tracking})
