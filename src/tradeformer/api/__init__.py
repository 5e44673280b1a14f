"""HTTP API (extra `api`: fastapi, uvicorn)."""
