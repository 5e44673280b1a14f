"""`tradeformer signals` (the daily signal job) and `tradeformer ledger score | report | show`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from tradeformer.cli.app import app, bundles_app, ledger_app
from tradeformer.cli.console import console
from tradeformer.errors import TradeformerError

log = logging.getLogger(__name__)
LedgerOpt = Annotated[
    str,
    typer.Option(
        "--ledger",
        help="A SQLite file (default), a .duckdb file (needs duckdb_engine) or any "
        "SQLAlchemy URL (postgresql://...).",
    ),
]
StoreOpt = Annotated[Path, typer.Option("--data", help="The bar store the signals read.")]
UntilOpt = Annotated[
    str | None,
    typer.Option(help="Act as of this date: only bars stamped at or before it (replays)."),
]
DEFAULT_LEDGER = "runs/ledger.db"


def _until(text: str | None):
    import pandas as pd

    from tradeformer.errors import InputError

    if text is None:
        return None
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise InputError(f"--until {text!r}: not a date") from None


@app.command("signals")
def signals_cmd(
    bundle: Annotated[
        Path, typer.Option(help="The bundle that issues the signals, or a bundle registry.")
    ],
    data: StoreOpt,
    ledger: LedgerOpt = DEFAULT_LEDGER,
    until: UntilOpt = None,
    download: Annotated[
        bool, typer.Option("--download", help="Update the store from Yahoo first (if reachable).")
    ] = False,
) -> None:
    """Predict every symbol of the bundle's universe at the latest complete bar and append
    the signals to the ledger (one row per as-of bar, symbol, horizon and bundle; rerunning
    for the same bar writes nothing). Refuses a store that is behind: no stale signal."""
    from tradeformer.inference.predictor import Predictor
    from tradeformer.live.ledger import Ledger
    from tradeformer.live.registry import resolve_bundle
    from tradeformer.live.signals import issue_signals

    bundle = resolve_bundle(bundle)  # a registry: its current champion
    predictor = Predictor.load(bundle)
    if download:
        _download(predictor, data)
    run = issue_signals(predictor, bundle, data, Ledger(ledger), until=_until(until))
    console.print(
        f"[green]signals[/] as of {run.as_of.date()} by bundle {run.bundle_id}: "
        f"{run.inserted} written, {run.already} already in {ledger} ({run.n_symbols} symbols)"
    )


def _download(predictor, data: Path) -> None:
    """Refresh the store's symbols from Yahoo; when that fails, say so and go on with the
    bars present (the staleness check then decides whether signals can be issued)."""
    from tradeformer.data.download import download_bars
    from tradeformer.data.sources import write_store
    from tradeformer.data.store import BarStore

    store = BarStore(data)
    symbols = predictor.universe or store.symbols()
    try:
        loaded = download_bars(symbols, progress=True)
        write_store(loaded, data, source="yahoo:1d", derive=("1W", "1M"))
    except (TradeformerError, OSError) as e:
        log.warning("download failed (%s): using the bars in %s", e, data)


@ledger_app.command("score")
def ledger_score(
    data: StoreOpt,
    ledger: LedgerOpt = DEFAULT_LEDGER,
    label_kind: Annotated[str, typer.Option(help="log or simple returns (as trained).")] = "log",
    until: UntilOpt = None,
) -> None:
    """Fill each signal's realised return once its horizon has passed in the store."""
    from tradeformer.live.ledger import Ledger
    from tradeformer.live.scoring import score_ledger

    counts = score_ledger(Ledger(ledger), data, kind=label_kind, until=_until(until))
    console.print(
        f"[green]scored[/] {counts['filled']:,} of {counts['pending']:,} pending signals; "
        f"{counts['still_pending']:,} still wait for their horizon"
    )


@ledger_app.command("report")
def ledger_report(
    ledger: LedgerOpt = DEFAULT_LEDGER,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/live_report"),
    cost_bps: Annotated[float, typer.Option(help="Paper costs per side (bps).")] = 5.0,
) -> None:
    """The live record (rank IC with CI, hit rate vs majority, paper long-short equity,
    Sharpe and drawdown) next to the bundle's backtest -> OUT/index.html."""
    from tradeformer.errors import NotFoundError
    from tradeformer.live.ledger import Ledger
    from tradeformer.live.record_report import render_live_report

    rows = Ledger(ledger).read()
    if rows.empty:
        raise NotFoundError(f"{ledger} holds no signal yet: run `tradeformer signals` first")
    page = render_live_report(rows, out, cost_bps)
    console.print(f"[green]live report[/] {page}")


@ledger_app.command("show")
def ledger_show(
    ledger: LedgerOpt = DEFAULT_LEDGER,
    last: Annotated[int, typer.Option(help="Rows of the latest as-of bar to show.")] = 20,
) -> None:
    """The ledger's size and its latest signals."""
    from tradeformer.live.ledger import Ledger

    rows = Ledger(ledger).read()
    if rows.empty:
        console.print(f"{ledger}: empty")
        return
    latest = rows[rows["as_of"] == rows["as_of"].max()]
    console.print(
        f"{ledger}: {len(rows):,} signals, {rows['as_of'].nunique()} as-of bars, "
        f"{rows['realized_return'].notna().sum():,} scored"
    )
    cols = ["as_of", "symbol", "horizon", "action", "score", "confidence", "realized_return"]
    console.print(latest[cols].head(last).to_string(index=False))


RegistryArg = Annotated[Path, typer.Argument(help="The registry directory.")]


@bundles_app.command("publish")
def bundles_publish(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory (runs/<id>/bundle).")],
    registry: RegistryArg,
    promote: Annotated[bool, typer.Option("--promote", help="Make it the champion.")] = False,
) -> None:
    """Copy a bundle into REGISTRY/versions/ (whole or not at all)."""
    from tradeformer.live import registry as reg

    version = reg.publish(bundle, registry)
    if promote:
        reg.promote(registry, version, "published with --promote")
    console.print(f"[green]published[/] {version}{' (current)' if promote else ''}")


@bundles_app.command("promote")
def bundles_promote(registry: RegistryArg, version: str) -> None:
    """Point REGISTRY/current at VERSION (one atomic rename; servers reload it)."""
    from tradeformer.live import registry as reg

    reg.promote(registry, version, "by hand")
    console.print(f"[green]current[/] {version}")


@bundles_app.command("rollback")
def bundles_rollback(registry: RegistryArg) -> None:
    """Point REGISTRY/current back at the previous champion."""
    from tradeformer.live import registry as reg

    console.print(f"[green]current[/] {reg.rollback(registry)}")


@bundles_app.command("list")
def bundles_list(registry: RegistryArg) -> None:
    """The versions, the current one marked, and the promotion history."""
    from tradeformer.live import registry as reg

    current = reg.current_version(registry) if (registry / reg.POINTER).exists() else None
    for v in reg.versions(registry):
        console.print(f"{'*' if v == current else ' '} {v}")
    for e in reg.history(registry):
        console.print(f"  {e['time']}  {e['version']}  ({e['reason']})", markup=False)


@app.command("retrain")
def retrain_cmd(
    bundle: Annotated[Path, typer.Option("--bundle", help="The bundle registry (its champion).")],
    data: StoreOpt,
    until: UntilOpt = None,
    tolerance: Annotated[
        float,
        typer.Option(help="Promote when challenger IC >= champion IC - TOLERANCE."),
    ] = 0.0,
) -> None:
    """Refit the champion's config on the store up to its latest bar, score challenger and
    champion on the same new rows of the most recent validation block, promote by the rule
    (logged with both scores in REGISTRY/promotions.jsonl and retrains.jsonl)."""
    from tradeformer.errors import InputError
    from tradeformer.live.registry import is_registry
    from tradeformer.live.retrain import retrain

    if not is_registry(bundle):
        raise InputError(
            f"{bundle}: not a bundle registry; make one with "
            f"`tradeformer bundles publish BUNDLE {bundle} --promote`"
        )
    d = retrain(bundle, data, until=_until(until), tolerance=tolerance)
    verdict = "[green]promoted[/]" if d.promoted else "[yellow]kept the champion[/]"
    console.print(
        f"{verdict}: challenger {d.challenger} IC {d.challenger_ic:+.4f} vs champion "
        f"{d.champion} {d.champion_ic:+.4f} on {d.n_dates} dates {d.block[0]}..{d.block[1]} "
        f"(difference CI [{d.difference_ci[0]:+.4f}, {d.difference_ci[1]:+.4f}]; rule: "
        f"{d.rule}) in {d.seconds / 60:.1f} min"
    )
