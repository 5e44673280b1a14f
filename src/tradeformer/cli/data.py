"""`tradeformer data validate | import | download | info`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from tradeformer.cli.app import data_app
from tradeformer.cli.console import console
from tradeformer.cli.options import (
    AsOfOpt,
    MinBarsOpt,
    PolicyOpt,
    SchedulerOpt,
    TzOpt,
    check_policy,
    scheduler_execution,
)
from tradeformer.cli.output import print_report, summary_table
from tradeformer.config import ExecutionConfig
from tradeformer.data.loading import LoadedBars, load_bars
from tradeformer.data.schema import Timeframe
from tradeformer.data.sources import resolve_store, write_store
from tradeformer.data.store import BarStore
from tradeformer.errors import InputError, TradeformerError

PathArg = Annotated[Path, typer.Argument(help="A CSV/Parquet file or a directory of them.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Store directory (created if missing).")]


def load(
    path: Path,
    policy: str,
    min_bars: int,
    adjust: bool,
    tz: str,
    as_of: str | None = None,
    scheduler: str | None = None,
) -> LoadedBars:
    """Bars read and validated here, or file by file on the --scheduler's Dask cluster."""
    from tradeformer.execution import engine_scope

    check_policy(policy)
    try:
        stamp = pd.Timestamp(as_of) if as_of else None
    except ValueError:
        raise InputError(f"--as-of {as_of!r}: not a date or time") from None
    execution = scheduler_execution(scheduler)
    with engine_scope(execution or ExecutionConfig(workers=1)) as engine:
        return load_bars(
            path,
            policy=policy,
            min_bars=min_bars,
            adjust=adjust,
            default_tz=tz,
            progress=True,
            as_of=stamp,
            engine=engine,
        )


def store_root(data: Path) -> Path:
    """The store behind a --data argument (every command takes the same things)."""
    try:
        return resolve_store(data, progress=True).root
    except TradeformerError as e:  # same class and exit code, the option named
        e.args = (f"--data {data}: {e}",)
        raise


def timeframes(text: str) -> list[str]:
    return [Timeframe.parse(t).value for t in text.split(",") if t.strip()]


@data_app.command("validate")
def data_validate(
    path: PathArg,
    policy: PolicyOpt = "reject",
    min_bars: MinBarsOpt = 120,
    tz: TzOpt = "America/New_York",
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate bars; exit 3 listing every problem (symbol, row, timestamp, rule)."""
    loaded = load(path, policy, min_bars, False, tz, as_of)
    if as_json:
        rep = loaded.report.to_dict()
        rep["symbols"] = {
            s: {"timeframe": loaded.timeframes[s], "rows": len(loaded.bars[s])}
            for s in loaded.symbols
        }
        console.print_json(json.dumps(rep, default=str))
        return
    print_report(loaded.report)
    console.print(summary_table(loaded, f"{path}: {len(loaded.bars)} symbol(s) valid"))


@data_app.command("import")
def data_import(
    path: PathArg,
    out: OutOpt,
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
    scheduler: SchedulerOpt = None,
) -> None:
    """Validate bars and write them (plus derived timeframes) into a Parquet store."""
    loaded = load(path, policy, min_bars, adjust, tz, as_of, scheduler)
    print_report(loaded.report)
    store = write_store(loaded, out, source=str(path), derive=timeframes(derive), calendar=calendar)
    counts = store.summary().groupby("timeframe").size().to_dict()
    console.print(f"[green]imported[/] {len(loaded.bars)} symbol(s) into {out}: {counts}")


@data_app.command("download")
def data_download(
    symbols: Annotated[list[str], typer.Argument(help="Ticker symbols, e.g. AAPL MSFT ^GSPC.")],
    out: OutOpt,
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
    from tradeformer.data.download import download_bars

    check_policy(policy)
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
    print_report(loaded.report)
    source = f"yahoo:{interval}"
    write_store(loaded, out, source=source, derive=timeframes(derive), calendar=calendar)
    console.print(f"[green]downloaded[/] {len(loaded.bars)} symbol(s) into {out}")


@data_app.command("info")
def data_info(store: Annotated[Path, typer.Argument(help="Store directory.")]) -> None:
    """Show what a store holds."""
    s = BarStore(store)
    summary = s.summary()
    meta = s.manifest.get("meta", {})
    t = Table(title=f"{store} (base {s.default_timeframe()}, adjusted={meta.get('adjusted')})")
    for col in summary.columns:
        t.add_column(col)
    for row in summary.itertuples(index=False):
        t.add_row(*(str(v) for v in row))
    console.print(t)
