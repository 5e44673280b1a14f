"""HTTP API: every endpoint through TestClient, and a real uvicorn process on loopback; the
same bars give the same prediction through Python, HTTP and the CLI."""

from __future__ import annotations

import json
import os
import threading

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tradeformer.api.launch import running_server
from tradeformer.inference import Predictor


def _body(tiny_source, sym: str, n: int | None = None) -> dict:
    bars = pd.read_parquet(tiny_source / f"{sym}.parquet")
    if n:
        bars = bars.tail(n)
    bars = bars.drop(columns=["adj_close"])
    bars["timestamp"] = bars["timestamp"].dt.strftime("%Y-%m-%d")
    return {"symbol": sym, "bars": bars.to_dict(orient="records")}


def test_health_model_and_docs(served):
    _, _, client = served
    assert client.get("/v1/health").json()["status"] == "ok"
    m = client.get("/v1/model").json()
    assert m["schema"]["embedding_dim"] == 512
    assert m["min_bars"] == 120 + 60
    assert client.get("/docs").status_code == 200
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]


def test_same_prediction_python_http_store(served, tiny_source):
    summary, _, client = served
    pred = Predictor.load(summary["bundle"])
    body = _body(tiny_source, "AAPL", 400)
    py = pred.predict_bars({"AAPL": pd.DataFrame(body["bars"])}).iloc[0]
    http = client.post("/v1/predict", json=body).json()
    assert http["veto_prob"] == pytest.approx(py["veto_prob"], rel=1e-9)
    assert http["action"] == py["action"]
    via_store = client.get("/v1/predict/AAPL").json()
    assert via_store["veto_prob"] == pytest.approx(http["veto_prob"], rel=1e-6)
    batch = client.post("/v1/predict/batch", json={"symbols": ["AAPL", "XOM"]}).json()
    assert [p["symbol"] for p in batch["predictions"]] == ["AAPL", "XOM"]
    items = client.post("/v1/predict/batch", json={"items": [body]}).json()
    assert items["predictions"][0]["veto_prob"] == pytest.approx(http["veto_prob"], rel=1e-9)


@pytest.mark.parametrize(
    ("mutate", "status", "needle"),
    [
        (lambda b: b.update(symbol="../../etc/passwd"), 422, "pattern"),
        (lambda b: b["bars"][5].update(high=-1), 422, "greater than 0"),
        (lambda b: b["bars"].reverse(), 422, "strictly increasing"),
        (lambda b: b.update(bars=b["bars"][:50]), 422, "history_shorter_than_lookback"),
        (lambda b: b["bars"][10].update(high=1e-3), 422, "high_below_open_close"),
        (lambda b: b.update(extra=1), 422, "extra"),
    ],
)
def test_bad_requests_get_precise_422(served, tiny_source, mutate, status, needle):
    _, _, client = served
    body = _body(tiny_source, "XOM", 300)
    mutate(body)
    r = client.post("/v1/predict", json=body)
    assert r.status_code == status
    assert needle in r.text
    assert "Traceback" not in r.text


def test_unknown_symbols_and_bounds(served):
    _, _, client = served
    assert client.get("/v1/predict/NOPE").status_code == 404
    assert client.get("/v1/predict/..%2F..%2Fmanifest.json").status_code == 404
    r = client.post("/v1/predict/batch", json={"symbols": ["A"] * 201})
    assert r.status_code == 422
    assert client.post("/v1/predict/batch", json={}).status_code == 422


def test_real_server_process_on_loopback(served):
    summary, store, _ = served
    with running_server(summary["bundle"], store) as url:
        r = httpx.get(f"{url}/v1/predict/XOM", timeout=30)
        assert r.status_code == 200
        assert r.json()["symbol"] == "XOM"
        bad = httpx.post(f"{url}/v1/predict", json={"symbol": "X", "bars": []}, timeout=30)
        assert bad.status_code == 422


def test_fuzzed_request_bodies_never_5xx(served):
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    _, _, client = served
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    )
    bar = st.dictionaries(
        st.sampled_from(["timestamp", "open", "high", "low", "close", "volume", "x"]),
        st.one_of(scalar, st.sampled_from(["2024-01-02", "nan", "1e309"])),
        max_size=7,
    )
    body = st.one_of(
        st.fixed_dictionaries({"symbol": st.text(max_size=25), "bars": st.lists(bar, max_size=5)}),
        st.dictionaries(st.text(max_size=8), scalar, max_size=3),
        st.lists(scalar, max_size=3),
    )

    @hyp.settings(max_examples=150, deadline=None, database=None)
    @hyp.given(body)
    def check(b):
        r = client.post("/v1/predict", json=b)
        assert r.status_code < 500, (b, r.text)
        r = client.post("/v1/predict/batch", json=b)
        assert r.status_code < 500, (b, r.text)

    check()


def test_api_key_required_when_configured(served, caplog):
    from tradeformer.api.app import create_app

    summary, store, _ = served
    client = TestClient(create_app(summary["bundle"], store, api_key="s3cret-key"))
    assert client.get("/v1/health").status_code == 200  # liveness stays open
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "s3cret-ke"}):
        r = client.get("/v1/model", headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "APIKey"
        assert r.json()["detail"] == "missing or wrong API key"
    assert client.get("/v1/model", headers={"X-API-Key": "s3cret-key"}).status_code == 200
    r = client.get("/v1/predict/XOM", headers={"X-API-Key": "s3cret-key"})
    assert r.status_code == 200
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    assert "s3cret-key" not in caplog.text


def test_slow_prediction_answers_503_with_retry_after(served):
    from tradeformer.api.app import ServeLimits, create_app

    summary, store, _ = served
    app = create_app(summary["bundle"], store, limits=ServeLimits(timeout_s=0.2))
    release = threading.Event()
    fast = app.state.batcher.predict
    app.state.batcher.predict = lambda kind, items: (release.wait(5), fast(kind, items))[1]
    client = TestClient(app)
    r = client.get("/v1/predict/XOM")
    release.set()
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert "no prediction within 0.2 s" in r.json()["detail"]


def test_server_on_a_folder_of_bars_and_with_a_key_file(served, tiny_source, tmp_path):
    """`serve --data` takes plain bars as train does (imported at start-up): never a 500."""
    summary, _, _ = served
    key_file = tmp_path / "key"
    key_file.write_text("k-123\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    extra = ("--api-key-file", str(key_file))
    with running_server(summary["bundle"], tiny_source, extra=extra, env=env, cwd=tmp_path) as url:
        ok = httpx.get(f"{url}/v1/predict/XOM", headers={"X-API-Key": "k-123"}, timeout=30)
        assert ok.status_code == 200 and ok.json()["symbol"] == "XOM"
        nope = httpx.get(f"{url}/v1/predict/NOPE", headers={"X-API-Key": "k-123"}, timeout=30)
        assert nope.status_code == 404
        assert httpx.get(f"{url}/v1/predict/XOM", timeout=30).status_code == 401


def test_serve_refuses_bad_data_at_start_up(served, tmp_path):
    from typer.testing import CliRunner

    from tradeformer.cli import app

    summary, _, _ = served
    (tmp_path / "empty").mkdir()
    for data in (tmp_path / "missing", tmp_path / "empty"):
        res = CliRunner().invoke(
            app, ["serve", "--bundle", str(summary["bundle"]), "--data", str(data)]
        )
        assert res.exit_code != 0 and f"--data {data}" in res.output
        assert "Traceback" not in res.output


def test_batch_answers_a_symbol_given_twice_in_order(served, tiny_source):
    """Schema-valid bodies are answered: the same symbol twice (different bars) gets two rows."""
    _, _, client = served
    long, short = _body(tiny_source, "XOM", 400), _body(tiny_source, "XOM", 300)
    short["bars"] = short["bars"][:-20]  # a different last bar
    aapl = _body(tiny_source, "AAPL", 300)
    r = client.post("/v1/predict/batch", json={"items": [long, aapl, short]})
    assert r.status_code == 200, r.text
    rows = r.json()["predictions"]
    assert [p["symbol"] for p in rows] == ["XOM", "AAPL", "XOM"]
    alone = [client.post("/v1/predict", json=b).json() for b in (long, aapl, short)]
    for got, want in zip(rows, alone, strict=True):
        assert got["timestamp"] == want["timestamp"]
        assert got["veto_prob"] == pytest.approx(want["veto_prob"], rel=1e-6)
    assert client.post("/v1/predict/batch", json={"symbols": ["XOM", "XOM"]}).status_code == 200
    both = client.post("/v1/predict/batch", json={"items": [aapl], "symbols": ["XOM"]})
    assert both.status_code == 422
    assert client.put("/v1/predict/batch").headers["allow"] == "POST"
    assert client.get("/v1/predict/batch").headers["allow"] == "POST"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_a_422_not_a_500(served, tiny_source, token):
    """Python's json clients send NaN / Infinity; the 422 must not try to echo them."""
    _, _, client = served
    body = json.dumps(_body(tiny_source, "AAPL", 200))
    first = body.index('"open": ') + len('"open": ')
    end = body.index(",", first)
    body = body[:first] + token + body[end:]
    r = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"][-1] == "open" and "input" not in detail[0]


def test_error_bodies_are_capped(served, tiny_source):
    """A 600 KB body full of problems gets a short answer, not the body echoed back."""
    _, _, client = served
    body = _body(tiny_source, "AAPL", 4000)
    for b in body["bars"]:
        b["open"] = -1.0
    raw = json.dumps(body)
    r = client.post("/v1/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert len(r.content) < 10_000 < len(raw)
    assert r.json()["detail"][-1]["type"] == "too_many_errors"


def test_docs_work_offline_and_responses_are_typed(served):
    _, _, client = served
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and "https://" not in page
    asset = next(p for p in page.split('"') if p.endswith("swagger-ui-bundle.js"))
    assert client.get(asset).status_code == 200
    redoc = client.get("/redoc").text
    asset = next(p for p in redoc.split('"') if p.endswith("redoc.standalone.js"))
    assert client.get(asset).status_code == 200
    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/v1/predict/{symbol}"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    props = spec["components"]["schemas"][ref]["properties"]
    assert {"symbol", "action", "expected_return", "score", "veto_prob"} <= set(props)


def test_batch_predicts_known_symbols_and_lists_unknown_ones(served):
    _, _, client = served
    r = client.post("/v1/predict/batch", json={"symbols": ["aapl", "NOPE", "XOM"]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert [p["symbol"] for p in out["predictions"]] == ["AAPL", "XOM"]
    assert out["errors"] == [{"symbol": "NOPE", "status": 404, "detail": "unknown symbol 'NOPE'"}]
    assert client.post("/v1/predict/batch", json={"symbols": ["NOPE"]}).status_code == 404
    assert client.get("/v1/predict/xom").json()["symbol"] == "XOM"
