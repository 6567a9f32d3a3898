"""Capacity of the Casey sandbox: can it hold 10,000 live calls and serve 1,000 requests/s?

Starts the sandbox in its own process (loopback, free port, rate limit and concurrency cap off),
creates ``--calls`` long calls so they all stay live, then drives a mixed GET/list/create load
from ``--drivers`` separate driver processes with httpx for at most ``--seconds`` seconds or
``--requests`` requests, and prints one JSON object: requests/s, p50/p95 latency, live calls,
the sandbox's RSS and whether its lifecycle ticker kept up (lag of due transitions).

    .venv/bin/python benchmarks/sandbox_capacity.py            # defaults: 10k calls, 20 s load
    .venv/bin/python benchmarks/sandbox_capacity.py --http h11 # force uvicorn's pure-Python parser
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._numbers import phone_number_at
from casey_flows.sandbox.embedded import start_sandbox_process

MIX = (("get", 0.6), ("list", 0.25), ("create", 0.15))
# Each driver creates numbers from its own million of the generator's (the seed uses the first).
_WORKER_NUMBERS = 1_000_000


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _seed(info: dict[str, Any], count: int, concurrency: int) -> tuple[list[str], float]:
    """Create ``count`` calls as fast as ``concurrency`` workers can; return ids and seconds."""
    ids: list[str] = []
    path = f"/connections/{info['conn']}/calls"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=info["base_url"], headers=info["headers"], limits=limits, timeout=30
    ) as client:
        counter = iter(range(count))

        async def worker() -> None:
            for n in counter:
                phone = phone_number_at(n)  # never a magic number: every call stays live
                resp = await client.post(path, json={"phone_number": phone, "context": {"n": n}})
                resp.raise_for_status()
                ids.append(resp.json()["data"]["id"])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ids, time.perf_counter() - started


async def _drive(info: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(info["seed"])
    ids: list[str] = info["ids"]
    path = f"/connections/{info['conn']}/calls"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    deadline = time.perf_counter() + info["seconds"]
    budget = iter(range(info["requests"]))
    limits = httpx.Limits(
        max_connections=info["concurrency"], max_keepalive_connections=info["concurrency"]
    )
    async with httpx.AsyncClient(
        base_url=info["base_url"], headers=info["headers"], limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            for n in budget:
                if time.perf_counter() > deadline:
                    return
                kind = rng.choices(kinds, weights)[0]
                t0 = time.perf_counter()
                try:
                    if kind == "get":
                        resp = await client.get(f"{path}/{rng.choice(ids)}")
                    elif kind == "list":
                        offset = rng.randrange(0, len(ids))
                        resp = await client.get(path, params={"limit": 20, "offset": offset})
                    else:
                        phone = phone_number_at(_WORKER_NUMBERS * (1 + info["worker"]) + n)
                        resp = await client.post(path, json={"phone_number": phone})
                    status = str(resp.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                if not status.startswith("2"):
                    errors[status] = errors.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(info["concurrency"])))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def _driver_main(info: dict[str, Any], out: Any) -> None:
    out.put(asyncio.run(_drive(info)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="load phase wall-time cap")
    parser.add_argument("--requests", type=int, default=40_000, help="load phase request cap")
    parser.add_argument("--drivers", type=int, default=2, help="driver processes")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="connections per driver (httpx's own CPU cost peaks near 8; more is slower)",
    )
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    parser.add_argument("--db", default=None, help="run the sandbox with this SQLite file")
    args = parser.parse_args(argv)

    sandbox = start_sandbox_process(
        extra_args=["--http", args.http],
        speed=1.0,
        ring_time_s=1.0,
        call_duration_mean_s=3600.0,  # long calls: the seeded ones stay live throughout
        call_duration_distribution="fixed",
        outcome_weights={"completed": 1.0},  # every seeded call connects and stays live
        concurrency_cap=0,
        rate_limit_per_s=0,
        db_path=args.db,
    )
    try:
        info: dict[str, Any] = {
            "base_url": sandbox.base_url,
            "headers": sandbox.headers,
            "conn": sandbox.call_out_connection,
        }
        rss_before = _rss_mb(sandbox.pid)
        ids, seed_s = asyncio.run(_seed(info, args.calls, concurrency=8))
        stats_after_seed = sandbox.admin.stats()

        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        per_driver = max(1, args.requests // args.drivers)
        procs = [
            ctx.Process(
                target=_driver_main,
                args=(
                    {
                        **info,
                        "ids": ids,
                        "seed": i,
                        "worker": i,
                        "seconds": args.seconds,
                        "requests": per_driver,
                        "concurrency": args.concurrency,
                    },
                    queue,
                ),
            )
            for i in range(args.drivers)
        ]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=args.seconds + 120) for _ in procs]
        for proc in procs:
            proc.join()
        stats = sandbox.admin.stats()
        latencies = [x for r in results for x in r["latencies"]]
        elapsed = max(r["elapsed"] for r in results)
        errors: dict[str, int] = {}
        for r in results:
            for k, n in r["errors"].items():
                errors[k] = errors.get(k, 0) + n
        report = {
            "http_impl": args.http,
            "sqlite": bool(args.db),
            "seed_calls": len(ids),
            "seed_creates_per_s": round(len(ids) / seed_s, 1),
            "live_calls_after_seed": stats_after_seed["live_calls"],
            "load": {
                "drivers": args.drivers,
                "concurrency": args.concurrency * args.drivers,
                "mix": dict(MIX),
                "requests": len(latencies),
                "seconds": round(elapsed, 2),
                "requests_per_s": round(len(latencies) / elapsed, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p95_ms": round(_pct(latencies, 0.95) * 1000, 2),
                "p99_ms": round(_pct(latencies, 0.99) * 1000, 2),
                "non_2xx": errors,
            },
            "live_calls": stats["live_calls"],
            "calls_total": stats["calls_total"],
            "calls_by_status": stats["calls_by_status"],
            "sandbox_rss_mb": {"start": rss_before, "end": _rss_mb(sandbox.pid)},
            "ticker": stats["ticker"],
        }
        print(json.dumps(report, indent=2))
        ok = report["load"]["requests_per_s"] >= 1000 and report["live_calls"] >= 10_000
        return 0 if ok else 1
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
