"""HTTP service (FastAPI): the Predictor behind `/v1/...`; OpenAPI docs at `/docs`.

`tradeformer serve --bundle DIR --data STORE`. Symbols are validated against a strict pattern
and looked up in the store's manifest (never used as a path), request sizes are bounded, and
errors are JSON messages without stack traces. Optional API key (`X-API-Key`, compared in
constant time, never logged); a full batcher queue or a slow prediction answers 503 with
Retry-After; unexpected errors are logged with their traceback and answered 500.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline

from tradeformer import __version__
from tradeformer.api.batcher import Batcher, Busy
from tradeformer.api.schemas import (
    SYMBOL_PATTERN,
    Bar,
    BatchRequest,
    BatchResponse,
    ErrorBody,
    Health,
    ItemsBatch,
    ModelInfo,
    Prediction,
    PredictRequest,
)
from tradeformer.data.store import BarStore
from tradeformer.data.validation import DataValidationError
from tradeformer.errors import DataError, InputError, TradeformerError
from tradeformer.inference import Predictor
from tradeformer.live.registry import current_version, is_registry
from tradeformer.live.signals import bundle_id


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


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeLimits:
    """`max_batch`: concurrent single-symbol requests answered by one batched prediction of up
    to this many symbols (1 = each on its own); `max_queue`: requests waiting beyond this get
    503; `timeout_s`: how long a request may wait for its prediction (then 503)."""

    max_batch: int = 32
    max_queue: int = 256
    timeout_s: float = 30.0
    reload_s: float = 2.0  # a registry's `current` pointer is checked this often


def _key_check(api_key: str):
    """A dependency that admits requests carrying `api_key` in X-API-Key."""
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the server's key")
    expected = api_key.encode()

    def check(given: str | None = Depends(header)) -> None:
        if given is None or not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, "missing or wrong API key", {"WWW-Authenticate": "APIKey"})

    return check


@dataclass(frozen=True)
class Loaded:
    """A bundle being served and its version (a registry's version name, or the bundle's
    weights hash): swapped as one reference, so a request uses exactly one of them."""

    predictor: Predictor
    version: str


@dataclass
class Service:
    """What the routes share: the loaded bundle, the store, one lock, the request batcher."""

    loaded: Loaded
    store: BarStore | None
    lock: threading.Lock
    batcher: Batcher | None = None

    @property
    def predictor(self) -> Predictor:
        return self.loaded.predictor

    def store_symbol(self, symbol: str) -> str:
        """The store's spelling of `symbol` (case ignored); 404 when it has none."""
        if self.store is None:
            raise HTTPException(404, "this server has no bar store (--data)")
        if re.match(SYMBOL_PATTERN, symbol):
            have = {s.upper(): s for s in self.store.symbols()}
            if symbol.upper() in have:
                found = have[symbol.upper()]
                self._in_universe(found)
                return found
        raise HTTPException(404, f"unknown symbol {symbol[:40]!r}")

    def _in_universe(self, symbol: str) -> None:
        p = self.predictor
        if p.cross_sectional and symbol not in set(p.universe):
            raise HTTPException(
                422,
                f"{symbol!r} is outside this cross-sectional bundle's {len(p.universe)}-symbol "
                "training universe (its score would rank it among names it was not trained "
                "with)",
            )

    def predict_symbols(self, symbols: list[str]) -> dict:
        """Store symbols in request order; unknown ones listed under `errors` (404 if all)."""
        found, errors = [], []
        for s in symbols:
            try:
                found.append(self.store_symbol(s))
            except HTTPException as e:
                errors.append({"symbol": s[:40], "status": e.status_code, "detail": e.detail})
        if not found:
            status = max(e["status"] for e in errors)
            raise HTTPException(status, "; ".join(dict.fromkeys(e["detail"] for e in errors)))
        with self.lock:
            cur = self.loaded
            table = cur.predictor.predict_store(self.store.root, list(dict.fromkeys(found)))
        table = table.assign(bundle_version=cur.version)
        rows = _records(table.set_index("symbol", drop=False).loc[found])
        return {"predictions": rows, "errors": errors}

    def predict(self, kind: str, items: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
        """The batcher's call (under the lock): one bundle for the whole batch, named."""
        cur = self.loaded
        if kind == "store":
            out = cur.predictor.predict_store(self.store.root, list(items))
        else:
            out = cur.predictor.predict_bars(items)
        return out.assign(bundle_version=cur.version)

    def predict_items(self, items: list[PredictRequest]) -> pd.DataFrame:
        """Items in order; a symbol given twice is predicted in a second call."""
        rounds: list[dict[str, tuple[int, pd.DataFrame]]] = []
        for k, it in enumerate(items):
            free = next((r for r in rounds if it.symbol not in r), None)
            if free is None:
                rounds.append(free := {})
            free[it.symbol] = (k, _frame(it))
        parts = []
        with self.lock:
            cur = self.loaded
            for r in rounds:
                out = cur.predictor.predict_bars({s: f for s, (_, f) in r.items()})
                out = out.assign(bundle_version=cur.version)
                order = out["symbol"].map({s: k for s, (k, _) in r.items()})
                parts.append(out.assign(_order=order))
        return pd.concat(parts).sort_values("_order").drop(columns="_order")

    def model_info(self) -> dict:
        cur = self.loaded
        p = cur.predictor
        m = p.bundle.manifest
        return {
            "bundle_version": cur.version,
            "created_at": m["created_at"],
            "versions": m["versions"],
            "embedding": {k: m["embedding"].get(k) for k in ("backend", "dim", "key")},
            "schema": {
                k: m["schema"][k]
                for k in ("classical_columns", "embedding_dim", "lookback", "horizons")
            },
            "members": {name: e["kind"] for name, e in m["models"].items()},
            "calendar": m["calendar"],
            "ensemble": m["config"]["ensemble"],
            "veto_threshold": p.threshold,
            "min_bars": p.min_bars,
            # cross-sectional bundles rank each symbol within its training universe's date
            "cross_sectional": p.cross_sectional,
            "target": p.target,
            "universe_size": len(p.universe),
        }


ERRORS = {
    400: "the body is not valid JSON",
    404: "unknown symbol, or no bar store",
    422: "invalid request: its fields (a list of problems), or bars failing the data rules "
    "the schema cannot state (high >= max(open, close), strictly increasing time, at least "
    "`min_bars` bars of one bar size, ...; `/v1/model` gives `min_bars`)",
    503: "busy: the queue is full or the prediction timed out; retry after Retry-After s",
}


MAX_ERRORS = 20  # problems listed in a 422; the rest counted
MAX_MESSAGE = 300  # characters of one problem's message


def validation_details(errors: list[dict]) -> list[dict]:
    """pydantic's errors as {loc, msg, type}: no `input` or `ctx` (they may hold NaN or the
    whole body), messages cut at MAX_MESSAGE, at most MAX_ERRORS (then one line counting the
    rest)."""
    out = [
        {
            "loc": [x if isinstance(x, (int, str)) else str(x) for x in e.get("loc", ())][:8],
            "msg": str(e.get("msg", ""))[:MAX_MESSAGE],
            "type": str(e.get("type", ""))[:60],
        }
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        more = f"... and {len(errors) - MAX_ERRORS} more problem(s)"
        out.append({"loc": [], "msg": more, "type": "too_many_errors"})
    return out


def _error_handlers(app: FastAPI) -> None:
    """Deliberate errors answered with their class's status; anything else logged, 500."""

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError):
        """The problems, never the input they were found in: a NaN could not be echoed as
        JSON (it was a 500), and a 600 KB body must not come back as a 1.8 MB answer."""
        return JSONResponse(status_code=422, content={"detail": validation_details(exc.errors())})

    @app.exception_handler(Busy)
    async def _busy(_: Request, exc: Busy):
        headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(status_code=503, content={"detail": str(exc)}, headers=headers)

    @app.exception_handler(DataValidationError)
    async def _invalid_bars(_: Request, exc: DataValidationError):
        detail = [i.message.replace(" [request]", "")[:MAX_MESSAGE] for i in exc.issues]
        if len(detail) > MAX_ERRORS:
            detail = [*detail[:MAX_ERRORS], f"... and {len(detail) - MAX_ERRORS} more"]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(TradeformerError)  # every deliberate error: its class's status
    async def _deliberate(_: Request, exc: TradeformerError):
        detail = str(exc).split("\n")[0][:500]
        return JSONResponse(status_code=exc.http_status, content={"detail": detail})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):  # logged here, never sent
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})


def _routes(app: FastAPI, svc: Service, api_key: str | None) -> None:
    # the scheme is declared (and enforced) only when a key is configured
    guarded = [Depends(_key_check(api_key))] if api_key else []
    errors = ({401: "missing or wrong API key"} if api_key else {}) | ERRORS

    def documented(*codes: int) -> dict:
        return {
            c: {"model": ErrorBody, "description": errors[c]} for c in (401, *codes) if c in errors
        }

    @app.get("/v1/health", response_model=Health)
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/model", dependencies=guarded, responses=documented(), response_model=ModelInfo)
    def model() -> dict:
        return JSONResponse(svc.model_info())

    # before GET /v1/predict/{symbol}: a wrong method on .../batch is answered "Allow: POST"
    @app.post(
        "/v1/predict/batch",
        dependencies=guarded,
        responses=documented(400, 404, 422),
        response_model=BatchResponse,
        description="Several symbols at once: from the server's store (`symbols`; a symbol "
        "not in the store is listed under `errors`, the others are predicted; 404 when none "
        "is) or from the bars in the body (`items`; a cross-sectional bundle needs bars of "
        "every symbol of its training universe, see GET /v1/model).",
    )
    def predict_batch(req: BatchRequest) -> dict:
        if isinstance(req, ItemsBatch):
            return JSONResponse({"predictions": _records(svc.predict_items(req.items))})
        return JSONResponse(svc.predict_symbols(req.symbols))

    @app.get("/v1/predict/batch", include_in_schema=False)
    def batch_is_post_only() -> None:
        raise HTTPException(405, "use POST for /v1/predict/batch", {"Allow": "POST"})

    @app.get(
        "/v1/predict/{symbol}",
        dependencies=guarded,
        responses=documented(404, 422, 503),
        response_model=Prediction,
    )
    def predict_symbol(symbol: str = PathParam(pattern=SYMBOL_PATTERN)) -> dict:
        return JSONResponse(_jsonable(svc.batcher.submit("store", svc.store_symbol(symbol))))

    cross_sectional = svc.predictor.cross_sectional

    # a cross-sectional bundle ranks a symbol among its whole universe: one symbol's bars can
    # never be answered, so the route is left out of its OpenAPI (and says why if called)
    @app.post(
        "/v1/predict",
        dependencies=guarded,
        responses=documented(400, 422, 503),
        response_model=Prediction,
        include_in_schema=not cross_sectional,
    )
    def predict_bars(req: PredictRequest) -> dict:
        if cross_sectional:
            raise InputError(
                "this bundle is cross-sectional: it ranks a symbol among its "
                f"{len(svc.predictor.universe)}-symbol training universe, so one symbol's bars "
                "cannot be scored; use GET /v1/predict/{symbol} (from the store) or POST "
                "/v1/predict/batch with bars of every universe symbol"
            )
        return JSONResponse(_jsonable(svc.batcher.submit("bars", req.symbol, _frame(req))))


def create_app(
    bundle_dir: str | Path,
    store_dir: str | Path | None = None,
    *,
    limits: ServeLimits | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """The service. Raises (at start-up, never per request) when the bundle or the store
    cannot be used."""
    limits = limits or ServeLimits()
    store = BarStore(store_dir) if store_dir else None
    if store is not None and not store.exists():
        raise DataError(f"{store_dir}: not a bar store (import bars with `tradeformer data`)")
    # one prediction at a time: torch already uses every core, and concurrent calls from the
    # server's thread pool would oversubscribe them (measured: 7 req/s and timeouts without)
    svc = Service(load_current(bundle_dir), store, threading.Lock())
    svc.batcher = Batcher(
        svc.predict, svc.lock, limits.max_batch, limits.max_queue, limits.timeout_s
    )
    members = " + ".join(svc.predictor.bundle.members)
    app = FastAPIOffline(  # /docs and /redoc from assets shipped in the package: work offline
        title="tradeformer",
        version=__version__,
        description=f"Next-trade predictions of the {members} ensemble gated by the LightGBM veto.",
    )
    _error_handlers(app)
    _routes(app, svc, api_key)
    app.state.batcher = svc.batcher
    if is_registry(bundle_dir):  # a promoted bundle is picked up without a restart
        app.state.watcher = BundleWatcher(svc, Path(bundle_dir), limits.reload_s)
    return app


def load_current(bundle_dir: str | Path) -> Loaded:
    """A bundle folder, or a registry's current champion, with its version name."""
    if is_registry(bundle_dir):
        version = current_version(bundle_dir)
        return Loaded(Predictor.load(Path(bundle_dir) / "versions" / version), version)
    return Loaded(Predictor.load(bundle_dir), bundle_id(bundle_dir))


class BundleWatcher:
    """Polls a registry's `current` pointer; a new champion is loaded beside the one being
    served (no lock held: requests go on), then swapped in as one reference. Requests already
    running finish on the bundle they started with; each answer names its version. A
    champion that cannot be loaded, or changes the kind of outputs (raw vs cross-sectional,
    which changes the routes), is refused and logged; the served bundle stays."""

    def __init__(self, svc: Service, root: Path, interval_s: float):
        self.svc, self.root, self.interval_s = svc, root, interval_s
        self.refused: set[str] = set()
        self.reloads = 0
        threading.Thread(target=self._watch, name="bundle-watcher", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.interval_s)
            try:
                self.check()
            except Exception:  # never let the watcher die
                log.exception("bundle reload check failed")

    def check(self) -> bool:
        version = current_version(self.root)
        if version == self.svc.loaded.version or version in self.refused:
            return False
        try:
            fresh = load_current(self.root)
        except TradeformerError as e:
            self.refused.add(version)
            log.error("not serving %s: %s", version, e)
            return False
        if fresh.predictor.cross_sectional != self.svc.predictor.cross_sectional:
            self.refused.add(fresh.version)
            log.error("not serving %s: it changes raw vs cross-sectional outputs "
                      "(restart the server for that)", fresh.version)  # fmt: skip
            return False
        was = self.svc.loaded.version
        self.svc.loaded = fresh  # one reference: the next request (and batch) uses it
        self.reloads += 1
        log.info("serving bundle %s (was %s)", fresh.version, was)
        return True
