"""`python -m tradeformer ...` (also what `torchrun -m tradeformer` runs)."""

from tradeformer.cli import app

app()
