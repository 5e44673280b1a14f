"""Bounded load test of `tradeformer serve` on loopback: C concurrent clients for T seconds.

Starts the server as a subprocess, then each client loops GET /v1/predict/{symbol} over the
store's symbols. Reports requests/s, latency p50/p99 and errors.
Usage: python benchmarks/api_load.py --bundle B --data STORE [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import numpy as np

from tradeformer.api.launch import running_server
from tradeformer.data import BarStore


async def client(url: str, symbols: list[str], stop: float, lat: list, errors: list, k: int):
    async with httpx.AsyncClient(timeout=60) as c:
        i = k
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                r = await c.get(f"{url}/v1/predict/{symbols[i % len(symbols)]}")
                if r.status_code != 200:
                    errors.append(r.status_code)
            except httpx.HTTPError as e:
                errors.append(type(e).__name__)
            lat.append(time.perf_counter() - t0)
            i += 1


async def run(url: str, symbols: list[str], clients: int, seconds: float):
    lat: list[float] = []
    errors: list = []
    stop = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(client(url, symbols, stop, lat, errors, k) for k in range(clients)))
    return lat, errors, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    with running_server(args.bundle, args.data) as url:
        symbols = BarStore(args.data).symbols()
        lat, errors, dt = asyncio.run(run(url, symbols, args.clients, args.seconds))
    ms = np.array(lat) * 1000
    print(
        f"{args.clients} clients x {args.seconds:.0f} s on loopback: {len(lat)} requests, "
        f"{len(lat) / dt:.1f} req/s, latency p50 {np.percentile(ms, 50):.0f} ms, "
        f"p99 {np.percentile(ms, 99):.0f} ms, errors {len(errors)}"
    )


if __name__ == "__main__":
    main()
