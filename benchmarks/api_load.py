"""Bounded load test of `tradeformer serve` on loopback: C concurrent clients for T seconds.

Starts the server as a subprocess, then each client loops over the store's symbols with
GET /v1/predict/{symbol} (whole history from the store) or POST /v1/predict (the last
`min_bars` bars in the body). Reports requests/s, latency p50/p99 and errors. The reference in
the same run is the server with `--max-batch 1` (every request a prediction of its own): the
ratio shows what continuous batching of concurrent requests buys.
Usage: python benchmarks/api_load.py --bundle B --data STORE [--clients 50] [--seconds 30]
       [--endpoint get|post|both] [--max-batch 32] [--no-reference]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
import numpy as np

from tradeformer.api.launch import running_server
from tradeformer.data import BarStore

JSON = {"content-type": "application/json"}


async def client(url: str, requests: list, stop: float, lat: list, errors: list, k: int):
    async with httpx.AsyncClient(timeout=60) as c:
        i = k
        while time.perf_counter() < stop:
            method, path, body = requests[i % len(requests)]
            t0 = time.perf_counter()
            try:
                if method == "GET":
                    r = await c.get(url + path)
                else:
                    r = await c.post(url + path, content=body, headers=JSON)
                if r.status_code != 200:
                    errors.append(r.status_code)
            except httpx.HTTPError as e:
                errors.append(type(e).__name__)
            lat.append(time.perf_counter() - t0)
            i += 1


async def run(url: str, requests: list, clients: int, seconds: float):
    lat: list[float] = []
    errors: list = []
    stop = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(client(url, requests, stop, lat, errors, k) for k in range(clients)))
    return lat, errors, time.perf_counter() - t0


def requests_for(endpoint: str, store: BarStore, min_bars: int) -> list:
    syms = store.symbols()
    if endpoint == "get":
        return [("GET", f"/v1/predict/{s}", None) for s in syms]
    out = []
    for s in syms:
        bars = store.read(s).tail(min_bars)[["timestamp", "open", "high", "low", "close", "volume"]]
        bars = bars.assign(timestamp=bars["timestamp"].dt.strftime("%Y-%m-%d"))
        body = json.dumps({"symbol": s, "bars": bars.to_dict(orient="records")})
        out.append(("POST", "/v1/predict", body))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--endpoint", choices=["get", "post", "both"], default="both")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--no-reference", action="store_true", help="skip the --max-batch 1 run")
    args = ap.parse_args()
    store = BarStore(args.data)
    endpoints = ["get", "post"] if args.endpoint == "both" else [args.endpoint]
    settings = [args.max_batch] if args.no_reference else [args.max_batch, 1]
    results = {}
    for mb in settings:
        with running_server(args.bundle, args.data, max_batch=mb) as url:
            min_bars = httpx.get(f"{url}/v1/model").json()["min_bars"]
            for ep in endpoints:
                reqs = requests_for(ep, store, min_bars)
                lat, errors, dt = asyncio.run(run(url, reqs, args.clients, args.seconds))
                ms = np.array(lat) * 1000
                results[(mb, ep)] = len(lat) / dt
                print(
                    f"max-batch {mb:>2}, {ep.upper():<4} {args.clients} clients x "
                    f"{args.seconds:.0f} s on loopback: {len(lat)} requests, "
                    f"{len(lat) / dt:.1f} req/s, latency p50 {np.percentile(ms, 50):.0f} ms, "
                    f"p99 {np.percentile(ms, 99):.0f} ms, errors {len(errors)}"
                )
    if len(settings) == 2:
        for ep in endpoints:
            ratio = results[(args.max_batch, ep)] / results[(1, ep)]
            print(f"{ep.upper()}: batching x{ratio:.1f} the requests/s of one-by-one")


if __name__ == "__main__":
    main()
