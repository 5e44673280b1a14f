"""HTTP API (extra `api`: fastapi, uvicorn)."""

API_KEY_ENV = "TRADEFORMER_API_KEY"  # the key clients must send when set (see `serve --help`)
