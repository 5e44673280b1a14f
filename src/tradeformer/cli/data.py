"""`tradeformer data validate | import | download | info`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

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
from tradeformer.cli.output import print_report, print_store_info, summary_table
from tradeformer.config import ExecutionConfig
from tradeformer.data.loading import LoadedBars, load_bars
from tradeformer.data.schema import Timeframe
from tradeformer.data.sources import resolve_store, write_store
from tradeformer.data.store import BarStore
from tradeformer.data.store_info import store_info
from tradeformer.data.validation import REPAIRABLE, DataValidationError
from tradeformer.errors import InputError, TradeformerError

log = logging.getLogger("tradeformer")
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
        try:
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
        except DataValidationError as e:
            hint = repair_hint(e.issues) if policy == "reject" else ""
            if hint:
                e.args = (f"{e}\n{hint}",)
            raise


def repair_hint(issues: list) -> str:
    """A line naming `--policy repair` when it would fix some of the problems."""
    fixable = sorted({i.rule.value for i in issues if i.rule in REPAIRABLE})
    if not fixable:
        return ""
    return (
        f"  hint: `--policy repair` drops or fixes the rows breaking {', '.join(fixable)} "
        "and records each repair in the store's manifest"
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
    """Validate bars; exit 3 listing every problem (symbol, row, timestamp, rule). With
    --json the report is printed as JSON whether the bars pass (`valid: true`) or not."""
    try:
        loaded = load(path, policy, min_bars, False, tz, as_of)
    except DataValidationError as e:
        if not as_json:
            raise
        rep = {"valid": False, **e.report.to_dict(), "symbols": {}}
        console.print_json(json.dumps(rep, default=str))
        raise typer.Exit(e.exit_code) from None
    if as_json:
        rep = {"valid": True, **loaded.report.to_dict()}
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
    counts = store.summary().groupby("timeframe", sort=False).size()
    files = ", ".join(f"{tf} {n}" for tf, n in counts.items())
    extra = f"; {len(loaded.report.repairs)} repair(s)" if loaded.report.repairs else ""
    console.print(
        f"[green]imported[/] {len(loaded.bars)} symbol(s) into {out} "
        f"(files per timeframe: {files}{extra})"
    )


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
def data_info(
    store: Annotated[Path, typer.Argument(help="Store directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """What a store holds: per timeframe, symbols, bars, first/last bar and incomplete last
    bars; the import's repairs and warnings (`-v` lists every symbol)."""
    s = BarStore(store)
    info = store_info(s)
    if as_json:
        console.print_json(json.dumps(info, default=str))
        return
    print_store_info(store, info, per_symbol=log.isEnabledFor(logging.DEBUG))
