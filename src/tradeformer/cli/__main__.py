from tradeformer.cli import app

app()
