"""The two rich consoles: results on stdout, errors on stderr."""

from rich.console import Console

console = Console()
err = Console(stderr=True, soft_wrap=True)
