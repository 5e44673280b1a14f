"""The command line: `cli.app` holds the Typer app and the error mapping; each module adds
the commands of one area (in this order in `--help`), each a thin call into the library."""

from importlib import import_module

from tradeformer.cli.app import app

COMMAND_MODULES = (
    "data",
    "features",
    "models",
    "train",
    "predict",
    "evaluate",
    "compare",
    "tune",
    "live",
    "demo",
)
for _name in COMMAND_MODULES:
    import_module(f"tradeformer.cli.{_name}")

__all__ = ["COMMAND_MODULES", "app"]
