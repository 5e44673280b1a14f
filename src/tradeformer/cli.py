"""Command line: `tradeformer data ...` and `tradeformer demo` (more stages join as they land)."""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tradeformer import __version__
from tradeformer.api import API_KEY_ENV
from tradeformer.data.loading import LoadedBars, load_bars
from tradeformer.data.schema import Timeframe
from tradeformer.data.store import BarStore
from tradeformer.data.validation import DataValidationError, ValidationReport

app = typer.Typer(
    name="tradeformer",
    help="OHLCV bars -> features -> three-model ensemble -> trade signals, measured honestly.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Load, validate, import, download and inspect OHLCV bars.")
app.add_typer(data_app, name="data")
features_app = typer.Typer(help="Build the 29 classical features and the labels.")
app.add_typer(features_app, name="features")
models_app = typer.Typer(help="Inspect the deep models (TimeFormer-XL, TFT-XL).")
app.add_typer(models_app, name="models")
dataset_app = typer.Typer(help="The combined 541-D feature + label table.")
app.add_typer(dataset_app, name="dataset")

ConfigOpt = Annotated[Path, typer.Option("--config", help="Experiment YAML (see configs/).")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value: --set training.epochs=2 (repeatable)."),
]


def _parse_sets(sets: list[str] | None) -> dict:
    """--set key=value pairs; values are YAML scalars/lists, except that dates stay strings."""
    out = {}
    for item in sets or []:
        if "=" not in item:
            _fail(f"--set expects key=value, got {item!r}", 2)
        k, v = item.split("=", 1)
        value = yaml.safe_load(v)
        out[k.strip()] = v.strip() if isinstance(value, datetime.date) else value
    return out


def _load_experiment(config: Path, sets: list[str] | None):
    from tradeformer.config import ConfigError, load_config

    try:
        return load_config(config, _parse_sets(sets))
    except ConfigError as e:
        _fail(str(e), 2)
        raise


def _print_results(m: dict) -> None:
    """Direction metrics table and the veto's coverage against its rows' base rate."""
    console.print(_metrics_table(m))
    v = m["veto"]["test"]
    if v.get("n_kept"):
        console.print(
            f"veto (threshold {m['veto']['threshold']}): keeps {v['coverage']:.1%} of test rows; "
            f"accuracy of kept calls {v['accuracy_kept']:.1%} vs their up-share "
            f"{v['base_rate_up_kept']:.1%}"
        )
    else:
        console.print(f"veto (threshold {m['veto']['threshold']}): keeps no test row")


def _metrics_table(metrics: dict) -> Table:
    h = metrics["horizon"]
    t = Table(title=f"direction at {h} bars: accuracy vs the up-share base rate")
    for col in (
        "period",
        "model",
        "n",
        "accuracy",
        "base rate up",
        "acc - majority",
        "AUC",
        "rank IC",
    ):
        t.add_column(col, justify="right")
    for period in ("oof", "test"):
        block = metrics[period]
        for name in ("timeformer", "tft", "ensemble"):
            m = block[name] if name == "ensemble" else block[name][f"h{h}"]
            t.add_row(
                period,
                name,
                f"{m['n']:,}",
                f"{m['accuracy']:.1%}",
                f"{m['base_rate_up']:.1%}",
                f"{m['accuracy_minus_majority']:+.1%}",
                f"{m['auc']:.3f}",
                f"{m['rank_ic']:+.3f}",
            )
    return t


console = Console()
err = Console(stderr=True, soft_wrap=True)

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


def _version(value: bool) -> None:
    if value:
        console.print(f"tradeformer {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """tradeformer command line."""


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _check_policy(policy: str) -> None:
    if policy not in ("reject", "repair"):
        _fail(f"--policy must be 'reject' or 'repair', not {policy!r}", 2)


def _print_report(report: ValidationReport) -> None:
    for r in report.repairs:
        ex = f" e.g. {', '.join(r.examples[:3])}" if r.examples else ""
        msg = escape(f"{r.symbol}: {r.rule.value}: {r.action} ({r.rows}){ex}")
        console.print(f"[yellow]repaired[/] {msg}")
    for w in report.warnings:
        console.print(f"[yellow]warning[/] {escape(w.message)}", highlight=False)


def _summary_table(loaded: LoadedBars, title: str) -> Table:
    t = Table(title=title)
    for col in ("symbol", "timeframe", "bars", "first", "last", "ann. vol", "total return"):
        t.add_column(col, justify="right" if col not in ("symbol", "timeframe") else "left")
    for sym in loaded.symbols:
        f = loaded.bars[sym]
        close = f["close"].to_numpy()
        r = np.diff(np.log(close))
        per_year = 252 if loaded.timeframes[sym] == "1D" else np.nan
        vol = np.std(r) * np.sqrt(per_year) if r.size else np.nan
        t.add_row(
            sym,
            loaded.timeframes[sym],
            f"{len(f):,}",
            _when(f["timestamp"].iloc[0]),
            _when(f["timestamp"].iloc[-1]),
            "-" if np.isnan(vol) else f"{vol:.1%}",
            f"{close[-1] / close[0] - 1:+.1%}",
        )
    return t


def _when(ts: pd.Timestamp) -> str:
    if ts.tzinfo is None and ts == ts.normalize():
        return str(ts.date())
    return ts.strftime("%Y-%m-%d %H:%M %Z")


def _load(
    path: Path, policy: str, min_bars: int, adjust: bool, tz: str, as_of: str | None = None
) -> LoadedBars:
    _check_policy(policy)
    try:
        stamp = pd.Timestamp(as_of) if as_of else None
        return load_bars(
            path,
            policy=policy,
            min_bars=min_bars,
            adjust=adjust,
            default_tz=tz,
            progress=True,
            as_of=stamp,
        )
    except (DataValidationError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
        raise  # unreachable


DataOpt = Annotated[
    Path,
    typer.Option(
        "--data",
        help="A bar store, or a CSV/Parquet file or folder of bars (validated and imported "
        "once into .tradeformer_cache/stores/).",
    ),
]


def _store(data: Path) -> Path:
    """The store behind a --data argument (every command takes the same things)."""
    from tradeformer.data.sources import resolve_store

    try:
        return resolve_store(data, progress=True).root
    except (DataValidationError, FileNotFoundError, ValueError) as e:
        _fail(f"--data {data}: {e}")
        raise


def _timeframes(text: str) -> list[str]:
    try:
        return [Timeframe.parse(t).value for t in text.split(",") if t.strip()]
    except ValueError as e:
        _fail(str(e), 2)
        raise


def _write_store(
    loaded: LoadedBars, out: Path, derived: list[str], calendar: str, source: str
) -> BarStore:
    from tradeformer.data.sources import write_store

    try:
        return write_store(loaded, out, source=source, derive=derived, calendar=calendar)
    except ValueError as e:
        _fail(str(e))
        raise


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="A CSV/Parquet file or a directory of them.")],
    policy: PolicyOpt = "reject",
    min_bars: MinBarsOpt = 120,
    tz: TzOpt = "America/New_York",
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate bars; exit 1 listing every problem (symbol, row, timestamp, rule)."""
    loaded = _load(path, policy, min_bars, False, tz, as_of)
    if as_json:
        rep = loaded.report.to_dict()
        rep["symbols"] = {
            s: {"timeframe": loaded.timeframes[s], "rows": len(loaded.bars[s])}
            for s in loaded.symbols
        }
        console.print_json(json.dumps(rep, default=str))
        return
    _print_report(loaded.report)
    console.print(_summary_table(loaded, f"{path}: {len(loaded.bars)} symbol(s) valid"))


@data_app.command("import")
def data_import(
    path: Annotated[Path, typer.Argument(help="A CSV/Parquet file or a directory of them.")],
    out: Annotated[Path, typer.Option("--out", help="Store directory (created if missing).")],
    policy: PolicyOpt = "reject",
    min_bars: MinBarsOpt = 120,
    adjust: Annotated[
        bool, typer.Option("--adjust/--no-adjust", help="Scale O/H/L/C by adj_close/close.")
    ] = False,
    derive: Annotated[
        str, typer.Option("--derive", help="Coarser timeframes to derive, e.g. 1D,1W,1M.")
    ] = "1W,1M",
    calendar: Annotated[
        str, typer.Option("--calendar", help="exchange_calendars name (XNYS, XLON, 24/7...).")
    ] = "XNYS",
    tz: TzOpt = "America/New_York",
    as_of: AsOfOpt = None,
) -> None:
    """Validate bars and write them (plus derived timeframes) into a Parquet store."""
    loaded = _load(path, policy, min_bars, adjust, tz, as_of)
    _print_report(loaded.report)
    store = _write_store(loaded, out, _timeframes(derive), calendar, str(path))
    counts = store.summary().groupby("timeframe").size().to_dict()
    console.print(f"[green]imported[/] {len(loaded.bars)} symbol(s) into {out}: {counts}")


@data_app.command("download")
def data_download(
    symbols: Annotated[list[str], typer.Argument(help="Ticker symbols, e.g. AAPL MSFT ^GSPC.")],
    out: Annotated[Path, typer.Option("--out", help="Store directory (created if missing).")],
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="End date, exclusive (YYYY-MM-DD).")] = None,
    interval: Annotated[str, typer.Option(help="Yahoo interval: 1d, 1h, 1wk...")] = "1d",
    policy: PolicyOpt = "reject",
    min_bars: MinBarsOpt = 120,
    adjust: Annotated[bool, typer.Option("--adjust/--no-adjust")] = False,
    allow_missing: Annotated[
        bool, typer.Option(help="Keep going when some symbols fail to download.")
    ] = False,
    derive: Annotated[str, typer.Option("--derive")] = "1W,1M",
    calendar: Annotated[str, typer.Option("--calendar")] = "XNYS",
) -> None:
    """Download bars from Yahoo Finance (needs internet and the `yahoo` extra)."""
    from tradeformer.data.download import DownloadError, download_bars

    _check_policy(policy)
    try:
        loaded = download_bars(
            symbols,
            start=start,
            end=end,
            interval=interval,
            policy=policy,
            min_bars=min_bars,
            adjust=adjust,
            allow_missing=allow_missing,
        )
    except (DownloadError, DataValidationError, ValueError, RuntimeError) as e:
        _fail(str(e))
        raise
    _print_report(loaded.report)
    _write_store(loaded, out, _timeframes(derive), calendar, f"yahoo:{interval}")
    console.print(f"[green]downloaded[/] {len(loaded.bars)} symbol(s) into {out}")


@data_app.command("info")
def data_info(
    store: Annotated[Path, typer.Argument(help="Store directory.")],
) -> None:
    """Show what a store holds."""
    try:
        s = BarStore(store)
        summary = s.summary()
        meta = s.manifest.get("meta", {})
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
        raise
    t = Table(title=f"{store} (base {s.default_timeframe()}, adjusted={meta.get('adjusted')})")
    for col in summary.columns:
        t.add_column(col)
    for row in summary.itertuples(index=False):
        t.add_row(*(str(v) for v in row))
    console.print(t)


@features_app.command("build")
def features_build(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Output directory for feature tables.")],
    timeframe: Annotated[
        str | None, typer.Option(help="Bars to compute on (default: the store's base).")
    ] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated subset of symbols.")] = None,
    horizons: Annotated[str, typer.Option(help="Label horizons in bars.")] = "3,5,10",
    label_kind: Annotated[str, typer.Option(help="log or simple returns.")] = "log",
    intraday: Annotated[
        bool, typer.Option("--intraday/--no-intraday", help="MTF 4H/1H from intraday bars.")
    ] = True,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
) -> None:
    """Compute features + labels per symbol (cached: only changed symbols are recomputed)."""
    from pydantic import ValidationError

    from tradeformer.features.pipeline import FeatureConfig, build_features

    try:
        cfg = FeatureConfig(
            timeframe=timeframe,
            horizons=tuple(int(h) for h in horizons.split(",")),
            label_kind=label_kind,
            use_intraday=intraday,
        )
        sym_list = [s.strip() for s in symbols.split(",")] if symbols else None
        m = build_features(_store(data), out, cfg, symbols=sym_list, workers=workers)
    except (ValidationError, ValueError, KeyError, FileNotFoundError) as e:
        _fail(str(e))
        raise
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
    backend: Annotated[str, typer.Option(help="local | chronos | kronos | none")] = "local",
    out: Annotated[Path, typer.Option("--out", help="Embedding cache directory.")] = Path(
        "embeddings"
    ),
    timeframe: Annotated[str | None, typer.Option(help="Default: the store's base.")] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated subset.")] = None,
    lookback: Annotated[int, typer.Option(help="Bars per window (ending at t).")] = 120,
    model_id: Annotated[
        str | None, typer.Option(help="Hub id or local directory (chronos / kronos).")
    ] = None,
    tokenizer_id: Annotated[str | None, typer.Option(help="Kronos tokenizer id/dir.")] = None,
    train_end: Annotated[
        str | None,
        typer.Option(help="local: last date of the training period (default: 60 % point)."),
    ] = None,
    steps: Annotated[int, typer.Option(help="local: training steps.")] = 1500,
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = 512,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """512-D foundation-model embedding of every bar (cached; reruns embed only new bars)."""
    from tradeformer.features.foundation import BACKENDS, build_embeddings
    from tradeformer.features.foundation.local import LocalEncoderConfig

    if backend not in BACKENDS:
        _fail(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}", 2)
    try:
        m = build_embeddings(
            _store(data),
            out,
            backend,
            timeframe=timeframe,
            symbols=[s.strip() for s in symbols.split(",")] if symbols else None,
            lookback=lookback,
            batch_size=batch_size,
            train_end=train_end,
            local_config=LocalEncoderConfig(lookback=lookback, steps=steps),
            model_id=model_id,
            tokenizer_id=tokenizer_id,
            device=device,
        )
    except (RuntimeError, ValueError, KeyError, FileNotFoundError) as e:
        _fail(str(e))
        raise
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


@models_app.command("summary")
def models_summary(
    presets: Annotated[str, typer.Option(help="Comma-separated presets.")] = "small,spec",
    detail: Annotated[bool, typer.Option(help="Parameters per component.")] = False,
) -> None:
    """Real parameter counts of both models per preset (the spec's 8M / 6M are estimates)."""
    from tradeformer.models import build_model, count_parameters, parameter_table

    t = Table(title="deep models")
    for col in ("model", "preset", "parameters", "config"):
        t.add_column(col)
    for preset in presets.split(","):
        for name in ("timeformer", "tft"):
            try:
                m = build_model(name, preset.strip())
            except ValueError as e:
                _fail(str(e), 2)
            cfg = m.config.to_dict()
            keys = (
                "d_model",
                "n_layers",
                "n_heads",
                "ffn_dim",
                "hidden",
                "lstm_layers",
                "attn_layers",
                "var_dim",
                "lookback",
            )
            brief = ", ".join(f"{k}={cfg[k]}" for k in keys if k in cfg)
            t.add_row(name, preset, f"{count_parameters(m):,}", brief)
            if detail:
                for comp, n in parameter_table(m).items():
                    if n:
                        t.add_row("", f"  {comp}", f"{n:,}", "")
    console.print(t)


@app.command("train")
def train(
    config: Annotated[
        Path | None, typer.Option("--config", help="Experiment YAML (see configs/).")
    ] = None,
    stages: Annotated[
        str, typer.Option(help="all, or data (features, embeddings, table).")
    ] = "all",
    sets: SetOpt = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<name>-<time>).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue an interrupted run from its last epoch checkpoints, with the config "
            "it was started with (same results as an uninterrupted run).",
        ),
    ] = None,
) -> None:
    """Walk-forward training of both deep models, the veto and the bundle (see configs/)."""
    from tradeformer.training.pipeline import run_training

    cfg, run_dir = _train_target(config, sets, run_dir, resume)
    if stages not in ("all", "data"):
        _fail("--stages must be 'all' or 'data'", 2)
    try:
        summary = run_training(
            cfg,
            run_dir=run_dir,
            stages=("data",) if stages == "data" else ("data", "deep", "veto", "bundle"),
        )
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
        raise
    if "metrics" not in summary:
        console.print(f"[green]data stage done[/] ({summary['run_dir']})")
        return
    _print_results(summary["metrics"])
    console.print(
        f"[green]run[/] {summary['run_dir']} in {summary['seconds'] / 60:.1f} min; "
        f"bundle {summary['bundle']}"
    )


def _train_target(config, sets, run_dir, resume):
    """The config and run directory of a new run, or of the run being resumed."""
    if resume is None:
        if config is None:
            _fail("give --config (a new run) or --resume RUN_DIR", 2)
        if run_dir is not None and any(run_dir.glob("deep/*/*/checkpoint.pt")):
            _fail(f"{run_dir} holds a started run: continue it with --resume {run_dir}", 2)
        return _load_experiment(config, sets), run_dir
    if config is not None or sets or run_dir is not None:
        _fail("--resume takes the run's own config: no --config, --set or --run-dir", 2)
    if not (resume / "config.yaml").is_file():
        _fail(f"{resume}: not a run directory (no config.yaml)", 2)
    return _load_experiment(resume / "config.yaml", None), resume


@app.command("predict")
def predict_cmd(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle directory (runs/<id>/bundle).")],
    data: DataOpt,
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols (default: all).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write .csv or .parquet.")] = None,
) -> None:
    """The next trade for each symbol from its latest bars (one batched pass)."""
    from tradeformer.bundle import BundleError
    from tradeformer.inference import Predictor

    try:
        pred = Predictor.load(bundle)
        table = pred.predict_store(_store(data), symbols or None)
    except (BundleError, KeyError, ValueError, FileNotFoundError) as e:
        _fail(str(e))
        raise
    h = pred.ensemble.horizon
    t = Table(title=f"next trade ({h}-bar horizon, veto threshold {pred.threshold})")
    for col in (
        "symbol",
        "last bar",
        "action",
        "expected return",
        "confidence",
        "TimeFormer",
        "TFT",
        "veto prob",
    ):
        t.add_column(col, justify="right")
    for r in table.itertuples(index=False):
        t.add_row(
            r.symbol,
            _when(r.timestamp),
            r.action,
            f"{r.expected_return:+.3%}",
            f"{r.confidence:.2f}",
            f"{r.timeformer_ret:+.3%}",
            f"{r.tft_ret:+.3%}",
            f"{r.veto_prob:.3f}",
        )
    console.print(t)
    if out is not None:
        if out.suffix == ".parquet":
            table.to_parquet(out, index=False)
        else:
            table.to_csv(out, index=False)
        console.print(f"wrote {out}")


@app.command("serve")
def serve(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle directory.")],
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
) -> None:
    """HTTP API: /v1/health, /v1/model, /v1/predict/{symbol}, POST /v1/predict and .../batch."""
    try:
        import uvicorn

        from tradeformer.api.app import ServeLimits, create_app
    except ImportError:
        _fail("the API needs: pip install 'tradeformer[api]'")
    key = _api_key(api_key_file)
    store = _store(data) if data is not None else None
    limits = ServeLimits(max_batch, max_queue, request_timeout)
    try:
        application = create_app(bundle, store, limits=limits, api_key=key)
    except Exception as e:  # bundle problems: one clear line
        _fail(str(e))
    if key:
        console.print("API key required (X-API-Key)")
    uvicorn.run(application, host=host, port=port, log_level="info")


def _api_key(path: Path | None) -> str | None:
    """The key from the file (stripped) or the environment; never printed."""
    if path is not None:
        try:
            key = path.read_text().strip()
        except OSError as e:
            _fail(f"--api-key-file {path}: {e.strerror}")
        if not key:
            _fail(f"--api-key-file {path}: the file is empty")
        return key
    return os.environ.get(API_KEY_ENV) or None


@dataset_app.command("build")
def dataset_build(config: ConfigOpt, sets: SetOpt = None) -> None:
    """Store, features, embeddings and the 541-D + label table (Parquet, one part per symbol)."""
    from tradeformer.training.pipeline import run_training

    cfg = _load_experiment(config, sets)
    try:
        run_training(cfg.model_copy(update={"write_dataset_table": True}), stages=("data",))
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
        raise
    console.print(f"[green]dataset[/] written under {cfg.cache_dir}/dataset/")


AblationOpt = Annotated[
    str,
    typer.Option(
        "--ablations",
        help="Comma list of retrained variants (no_embedding,no_mtf,no_smc,no_ta), 'all' or "
        "'none'.",
    ),
]


RunDirArg = Annotated[Path, typer.Argument(help="A training run directory (runs/<id>).")]
CostOpt = Annotated[float, typer.Option(help="Transaction cost per side (bps).")]


def _ablation_list(text: str) -> tuple[str, ...]:
    from tradeformer.evaluation.ablations import RETRAINED

    text = text.strip().lower()
    if text in ("", "none"):
        return ()
    if text == "all":
        return RETRAINED
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in RETRAINED]
    if bad:
        _fail(f"unknown ablation(s) {', '.join(bad)}; choose from {', '.join(RETRAINED)}", 2)
    return names


def _evaluate_and_report(
    run_dir: Path, ablations: tuple[str, ...], cost_bps: float, n_boot: int
) -> tuple[dict, Path]:
    from tradeformer.evaluation import evaluate_run
    from tradeformer.evaluation.report import render_report

    try:
        ev = evaluate_run(
            run_dir, ablations=ablations, cost_bps=cost_bps, n_boot=n_boot, log=console.print
        )
        return ev, render_report(run_dir)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
        raise


def _print_evaluation(ev: dict) -> None:
    from tradeformer.evaluation.summary import (
        cross_section_table,
        ensemble_table,
        model_table,
        sources_table,
        veto_table,
    )

    tables = [("spec vs measured: ensemble (final test period)", ensemble_table(ev))]
    tables.append(("individual models and baselines, same rows", model_table(ev)))
    if ev.get("cross_section"):
        tables.append(("cross-sectional signal, same rows", cross_section_table(ev)))
        tables.append(("the veto as meta-labelling", veto_table(ev)))
    if ev.get("ablations"):
        tables.append(("improvement sources (ablations)", sources_table(ev)))
    for title, (head, rows) in tables:
        t = Table(title=title, show_lines=False)
        for col in head:
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(*r)
        console.print(t)
    console.print(f"[yellow]caveat:[/] {ev['survivorship']}")


@app.command("evaluate")
def evaluate_cmd(
    run_dir: RunDirArg,
    ablations: AblationOpt = "none",
    cost_bps: CostOpt = 5.0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for CIs.")] = 200,
) -> None:
    """Test-period metrics with CIs, baselines, backtests, veto curve, calibration, ablations
    (retraining) and the HTML report -> RUN_DIR/evaluation/ and RUN_DIR/report/."""
    ev, page = _evaluate_and_report(run_dir, _ablation_list(ablations), cost_bps, n_boot)
    _print_evaluation(ev)
    console.print(f"[green]report[/] {page}")


@app.command("report")
def report_cmd(
    run_dir: RunDirArg,
    ablations: AblationOpt = "none",
    cost_bps: CostOpt = 5.0,
) -> None:
    """Render RUN_DIR/report/index.html (+ summary.md, PNGs); evaluates first if needed."""
    from tradeformer.evaluation.report import render_report

    if (run_dir / "evaluation" / "evaluation.json").exists() and ablations == "none":
        try:
            page = render_report(run_dir)
        except (ValueError, KeyError, FileNotFoundError) as e:
            _fail(str(e))
            raise
        ev = json.loads((run_dir / "evaluation" / "evaluation.json").read_text())
    else:
        ev, page = _evaluate_and_report(run_dir, _ablation_list(ablations), cost_bps, 200)
    _print_evaluation(ev)
    console.print(f"[green]report[/] {page}  (summary: {page.parent / 'summary.md'})")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo writes its outputs.")] = Path(
        "demo_output"
    ),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Run on these bars instead of the bundled sample (a store, or a folder of "
            "CSV/Parquet files, e.g. ../shared/data/daily).",
        ),
    ] = None,
    sets: SetOpt = None,
    ablations: AblationOpt = "all",
    quick: Annotated[
        bool, typer.Option(help="Smoke run: 1 epoch on few samples (numbers meaningless).")
    ] = False,
) -> None:
    """The main job, offline: validate -> features -> local embeddings -> walk-forward
    TimeFormer-XL + TFT-XL -> veto -> ensemble -> backtest, baselines, ablations -> report."""
    from tradeformer.config import ConfigError, load_config
    from tradeformer.data.sample import sample_path
    from tradeformer.training.pipeline import run_training

    t0 = time.perf_counter()
    source = data or sample_path()
    what = "bundled sample (GSPC, IXIC, MSFT daily)" if data is None else str(data)
    console.rule(f"tradeformer demo: {what}")
    loaded = _load(source, "reject", 120, False, "America/New_York")
    _print_report(loaded.report)
    if len(loaded.bars) <= 10:
        console.print(_summary_table(loaded, "validated bars"))
    else:
        console.print(f"validated {len(loaded.bars)} symbols")
    over = {"runs_dir": str(out / "runs"), "cache_dir": str(out / "cache")}
    if data is not None:
        over["data.source"] = str(data)
    over.update(_parse_sets(sets))
    try:
        cfg = load_config(Path(__file__).parent / "configs" / "demo.yaml", over)
    except ConfigError as e:
        _fail(str(e), 2)
        raise
    if quick:
        cfg = cfg.model_copy(
            update={
                "training": cfg.training.model_copy(
                    update={"epochs": 1, "max_samples_per_epoch": 256, "max_eval_samples": 256}
                ),
                "embedding": cfg.embedding.model_copy(update={"local_steps": 20}),
            }
        )
    try:
        summary = run_training(cfg)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
        raise
    _print_results(summary["metrics"])
    if len(loaded.bars) < 20:
        console.print(
            f"[yellow]note[/] {len(loaded.bars)} series are too few for the cross-sectional "
            "mode (ranks within a date need a universe): this demo trains the spec's raw mode. "
            "For the cross-sectional signal run `tradeformer train --config "
            "configs/daily100_cs.yaml` (see docs/training.md)."
        )
    ev, page = _evaluate_and_report(Path(summary["run_dir"]), _ablation_list(ablations), 5.0, 200)
    _print_evaluation(ev)
    console.print(
        "Read accuracy against the majority rate and the CIs: on daily bars nothing here is "
        "expected to beat 'always up' by much (see docs/evaluation.md)."
    )
    console.print(
        f"[green]demo finished[/] in {(time.perf_counter() - t0) / 60:.1f} min: run "
        f"{summary['run_dir']}, bundle {summary['bundle']}, report {page}"
    )


if __name__ == "__main__":  # pragma: no cover
    app()
