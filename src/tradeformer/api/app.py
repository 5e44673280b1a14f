"""HTTP service (FastAPI): the Predictor behind `/v1/...`; OpenAPI docs at `/docs`.

`tradeformer serve --bundle DIR --data STORE`. Symbols are validated against a strict pattern
and looked up in the store's manifest (never used as a path), request sizes are bounded, and
errors are JSON messages without stack traces.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from tradeformer import __version__
from tradeformer.api.batcher import Batcher
from tradeformer.api.schemas import SYMBOL_PATTERN, Bar, BatchRequest, PredictRequest
from tradeformer.data.store import BarStore
from tradeformer.data.validation import DataValidationError
from tradeformer.inference import Predictor


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, pd.Timestamp):
            v = v.isoformat()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    return [_jsonable(r) for r in df.to_dict(orient="records")]


def _frame(req: PredictRequest) -> pd.DataFrame:
    """The request's bars column by column (a frame from 240 dicts costs ~3x more)."""
    return pd.DataFrame({f: [getattr(b, f) for b in req.bars] for f in Bar.model_fields})


def create_app(
    bundle_dir: str | Path, store_dir: str | Path | None = None, max_batch: int = 32
) -> FastAPI:
    """The service. `max_batch`: concurrent single-symbol requests are answered by one batched
    prediction of up to this many symbols (`api.batcher`); 1 = every request on its own."""
    predictor = Predictor.load(bundle_dir)
    # one prediction at a time: torch already uses every core, and concurrent calls from the
    # server's thread pool would oversubscribe them (measured: 7 req/s and timeouts without)
    lock = threading.Lock()
    store = BarStore(store_dir) if store_dir else None

    def _predict(kind: str, items: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
        if kind == "store":
            return predictor.predict_store(store.root, list(items))
        return predictor.predict_bars(items)

    batcher = Batcher(_predict, lock, max_batch=max_batch)
    app = FastAPI(
        title="tradeformer",
        version=__version__,
        description="Next-trade predictions of the TimeFormer-XL + TFT-XL ensemble "
        "gated by the LightGBM veto.",
    )

    @app.exception_handler(DataValidationError)
    async def _invalid_bars(_: Request, exc: DataValidationError):
        return JSONResponse(
            status_code=422,
            content={"detail": [i.message.replace(" [request]", "") for i in exc.issues]},
        )

    @app.exception_handler(ValueError)
    async def _bad_value(_: Request, exc: ValueError):
        return JSONResponse(status_code=422, content={"detail": str(exc).split("\n")[0][:500]})

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception):  # never leak a stack trace
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    def _store_symbol(symbol: str) -> str:
        if store is None:
            raise HTTPException(404, "this server has no bar store (--data)")
        if not re.match(SYMBOL_PATTERN, symbol) or symbol not in store.symbols():
            raise HTTPException(404, f"unknown symbol {symbol[:40]!r}")
        return symbol

    @app.get("/v1/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/model")
    def model() -> dict:
        m = predictor.bundle.manifest
        return {
            "created_at": m["created_at"],
            "versions": m["versions"],
            "embedding": {k: m["embedding"].get(k) for k in ("backend", "dim", "key")},
            "schema": {
                k: m["schema"][k]
                for k in ("classical_columns", "embedding_dim", "lookback", "horizons")
            },
            "calendar": m["calendar"],
            "ensemble": m["config"]["ensemble"],
            "veto_threshold": predictor.threshold,
            "min_bars": predictor.min_bars,
            # cross-sectional bundles rank each symbol within its training universe's date
            "cross_sectional": predictor.cross_sectional,
            "target": predictor.target,
            "universe_size": len(predictor.universe),
        }

    @app.get("/v1/predict/{symbol}")
    def predict_symbol(symbol: str) -> dict:
        return JSONResponse(_jsonable(batcher.submit("store", _store_symbol(symbol))))

    @app.post("/v1/predict")
    def predict_bars(req: PredictRequest) -> dict:
        return JSONResponse(_jsonable(batcher.submit("bars", req.symbol, _frame(req))))

    @app.post("/v1/predict/batch")
    def predict_batch(req: BatchRequest) -> dict:
        if bool(req.items) == bool(req.symbols):
            raise HTTPException(422, "give exactly one of 'items' (bars) or 'symbols' (store)")
        if req.items:
            frames = {it.symbol: _frame(it) for it in req.items}
            if len(frames) != len(req.items):
                raise HTTPException(422, "duplicate symbols in items")
            with lock:
                return {"predictions": _records(predictor.predict_bars(frames))}
        syms = [_store_symbol(s) for s in req.symbols]
        with lock:
            return {"predictions": _records(predictor.predict_store(store.root, syms))}

    app.state.batcher = batcher
    return app
