"""The Typer application, its command groups, logging set-up, and the one place where a
deliberate error (`TradeformerError`) becomes a message and an exit code."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

from tradeformer import __version__
from tradeformer.cli.console import console, err
from tradeformer.errors import TradeformerError

log = logging.getLogger("tradeformer")
# click's own errors (usage, bad parameter), whichever click typer runs on (it vendors one)
CLICK_ERRORS = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class MappedErrors(TyperGroup):
    """Every command runs inside this group: a TradeformerError prints one line and exits
    with its class's code; anything else is a bug: logged, then raised with its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TradeformerError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
            raise typer.Exit(e.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt, CLICK_ERRORS):
            raise  # usage errors: click prints them (exit 2)
        except Exception:  # printed once, here; not again by click
            log.exception("tradeformer crashed (a bug: please report it with this traceback)")
            raise typer.Exit(1) from None


app = typer.Typer(
    name="tradeformer",
    help="OHLCV bars -> features -> three-model ensemble -> trade signals, measured honestly.",
    no_args_is_help=True,
    add_completion=False,
    cls=MappedErrors,
)
data_app = typer.Typer(help="Load, validate, import, download and inspect OHLCV bars.")
features_app = typer.Typer(help="Build the 29 classical features and the labels.")
models_app = typer.Typer(help="Inspect the registered ensemble members.")
dataset_app = typer.Typer(help="The combined 541-D feature + label table.")
bundles_app = typer.Typer(help="A bundle registry: versions, the current champion, rollback.")
ledger_app = typer.Typer(help="The ledger of issued signals: outcomes and the live record.")
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(dataset_app, name="dataset")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bundles_app, name="bundles")


class ConsoleHandler(logging.Handler):
    """Log records printed through the rich console (so they interleave with progress bars);
    warnings and worse carry their level."""

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record)
        if record.levelno >= logging.WARNING:
            msg = f"{record.levelname.lower()}: {msg}"
        console.print(msg, markup=False, highlight=False, soft_wrap=True)


def setup_logging(level: int = logging.INFO) -> None:
    """The library's log lines (`logging.getLogger(__name__)`) on the console, once; under
    torchrun only rank 0 logs below warnings."""
    if int(os.environ.get("RANK", "0")) > 0:
        level = max(level, logging.WARNING)
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = ConsoleHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def _version(value: bool) -> None:
    if value:
        console.print(f"tradeformer {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug log lines.")] = False,
) -> None:
    """tradeformer command line."""
    setup_logging(logging.DEBUG if verbose else logging.INFO)
