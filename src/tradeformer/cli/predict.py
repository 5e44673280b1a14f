"""`tradeformer predict` (a table of next trades) and `tradeformer serve` (the HTTP API)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tradeformer.api import API_KEY_ENV
from tradeformer.cli.app import app
from tradeformer.cli.console import console
from tradeformer.cli.data import store_root
from tradeformer.cli.options import DataOpt, SchedulerOpt, scheduler_execution
from tradeformer.cli.output import prediction_table
from tradeformer.errors import InputError, NotFoundError

BundleOpt = Annotated[
    Path,
    typer.Option(
        "--bundle",
        help="Bundle directory (runs/<id>/bundle), or a bundle registry (its current champion).",
    ),
]


@app.command("predict")
def predict_cmd(
    bundle: BundleOpt,
    data: DataOpt,
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols (default: all).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write .csv or .parquet.")] = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """The next trade for each symbol from its latest bars (one batched pass; with
    --scheduler the symbols' features are computed on a Dask cluster)."""
    from tradeformer.execution import engine_scope
    from tradeformer.inference import Predictor
    from tradeformer.live.registry import resolve_bundle

    pred = Predictor.load(resolve_bundle(bundle))
    root = store_root(data)
    name = f"--data {data}"
    known, unknown = pred.resolve_symbols(root, symbols or None, name=name)
    if not known:
        raise NotFoundError(f"none of the symbols is in {name}: {', '.join(unknown)}")
    execution = scheduler_execution(scheduler)
    if execution is None:
        table = pred.predict_store(root, known, name=name)
    else:
        with engine_scope(execution) as pred.engine:
            table = pred.predict_store(root, known, name=name)
    console.print(prediction_table(table, pred))
    if out is not None:
        if out.suffix == ".parquet":
            table.to_parquet(out, index=False)
        else:
            table.to_csv(out, index=False)
        console.print(f"wrote {out}")
    if unknown:  # the others were predicted; the exit code still says something was missing
        raise NotFoundError(f"not in {name}: {', '.join(unknown)} (the others were predicted)")


@app.command("serve")
def serve(
    bundle: BundleOpt,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Bars for GET /v1/predict/{symbol}: a store, or a file/folder of bars "
            "(imported into .tradeformer_cache/stores/ at start-up).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    max_batch: Annotated[
        int,
        typer.Option(
            "--max-batch",
            min=1,
            help="Answer up to this many concurrent single-symbol requests with one batched "
            "prediction (1: each on its own, bit-for-bit the single-call numbers).",
        ),
    ] = 32,
    max_queue: Annotated[
        int,
        typer.Option(min=1, help="Requests waiting for the model beyond this get 503."),
    ] = 256,
    request_timeout: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds a request may wait for its prediction (then 503)."),
    ] = 30.0,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the API key clients must send as X-API-Key (or set "
            f"{API_KEY_ENV}); without either the API is open."
        ),
    ] = None,
    reload_s: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="With a bundle registry: seconds between checks of its "
            "current pointer (a promoted bundle is served without a restart).",
        ),
    ] = 2.0,
) -> None:
    """HTTP API: /v1/health, /v1/model, /v1/predict/{symbol}, POST /v1/predict and .../batch."""
    try:
        import uvicorn

        from tradeformer.api.app import ServeLimits, create_app
    except ImportError:
        raise InputError("the API needs: pip install 'tradeformer[api]'") from None
    key = api_key(api_key_file)
    store = store_root(data) if data is not None else None
    limits = ServeLimits(max_batch, max_queue, request_timeout, reload_s)
    application = create_app(bundle, store, limits=limits, api_key=key)
    if key:
        console.print("API key required (X-API-Key)")
    uvicorn.run(application, host=host, port=port, log_level="info")


def api_key(path: Path | None) -> str | None:
    """The key from the file (stripped) or the environment; never printed."""
    if path is None:
        return os.environ.get(API_KEY_ENV) or None
    try:
        key = path.read_text().strip()
    except OSError as e:
        raise InputError(f"--api-key-file {path}: {e.strerror}") from None
    if not key:
        raise InputError(f"--api-key-file {path}: the file is empty")
    return key
