"""`--help` of the top-level command and of every subcommand through the installed entry point
(a docstring with rich markup once crashed `tradeformer --help`), and a one-line error for a
mistyped option."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from tradeformer.cli import app


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    out = [[]]

    def walk(cmd: click.Command, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(root, [])
    return out


def _entry_point() -> str:
    """The installed `tradeformer` script (the package is installed to run the tests)."""
    exe = Path(sys.executable).parent / "tradeformer"
    found = str(exe) if exe.exists() else shutil.which("tradeformer")
    assert found, "the tradeformer entry point is not installed (pip install -e .)"
    return found


COMMANDS = _commands()


def test_every_command_is_listed():
    names = {" ".join(c) for c in COMMANDS}
    assert {"", "serve", "train", "predict", "demo", "data validate", "data download"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "tradeformer")
def test_help_of_every_command(command):
    res = subprocess.run(
        [_entry_point(), *command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout and "Traceback" not in res.stdout + res.stderr


def test_mistyped_option_is_one_clear_line():
    res = subprocess.run(
        [_entry_point(), "data", "validate", ".", "--polcy", "repair"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "--polcy" in res.stderr
