"""CPU per request of ``AsyncCaseyClient`` on each HTTP transport, against the sandbox on loopback.

Starts the sandbox in its own process (rate limit and concurrency cap off), creates one call to
read, then, for each transport and each kind of request, sends ``--requests`` requests through
a fresh ``AsyncCaseyClient`` and measures this process's CPU (user + system, every thread) over
them: everything the client, the transport and the event loop cost, nothing of the sandbox's.
Rounds alternate the transports, so a load spike on a shared machine hits them alike; the report
gives the median and the spread over ``--rounds``, and the ratio of medians to aiohttp's.

    .venv/bin/python benchmarks/transport.py                         # 2,000 requests x 5 rounds
    .venv/bin/python benchmarks/transport.py --requests 500 --rounds 3 --transports httpx,mock

Kinds: ``get_sequential`` (``get_call``, one at a time), ``get_concurrent`` (``--concurrency``
at once, as a campaign keeps them), ``create_sequential`` (``create_call``: a POST with a JSON
body) and ``list_page`` (``list_calls(limit=100)``: one request, 100 calls to parse).
Transports: ``aiohttp`` (httpx-aiohttp), ``httpx`` (httpx's own), and ``mock``: an in-memory
``httpx.MockTransport`` answering the same bodies, i.e. the client's own cost above any socket.

Prints one JSON object; writes it to ``benchmarks/results/transport-<UTC time>.json`` unless
``--no-save``. Speed targets are read off this report, never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import machine_info, write_json
from benchmarks._numbers import phone_number_at
from casey_flows.client import AsyncCaseyClient
from casey_flows.client.transports import aiohttp_available
from casey_flows.sandbox.embedded import EmbeddedSandbox, start_sandbox_process

HERE = Path(__file__).resolve().parent
KINDS = ("get_sequential", "get_concurrent", "create_sequential", "list_page")
TRANSPORTS = ("aiohttp", "httpx", "mock")
WARM_UP = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=100, help="for get_concurrent")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per transport")
    parser.add_argument("--transports", default=",".join(TRANSPORTS))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--results-dir", default=str(HERE / "results"))
    parser.add_argument("--no-save", action="store_true", help="print only; write no file")
    args = parser.parse_args(argv)
    for option, known in (("transports", TRANSPORTS), ("kinds", KINDS)):
        unknown = set(getattr(args, option).split(",")) - set(known)
        if unknown:
            parser.error(f"unknown {option} {sorted(unknown)}; known: {', '.join(known)}")
    if "aiohttp" in args.transports.split(",") and not aiohttp_available():
        parser.error("the aiohttp transport needs httpx-aiohttp installed")
    return args


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this whole process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


class Target:
    """What the requests are sent to: the sandbox, and canned bodies for the mock transport."""

    def __init__(self, sandbox: EmbeddedSandbox) -> None:
        self.sandbox = sandbox
        self.connection = sandbox.call_out_connection
        self.call_id = ""
        self.call_body = b""
        self.page_body = b""

    async def seed(self) -> None:
        """One call to GET and a full page of 100 to list; the mock answers with copies."""
        async with AsyncCaseyClient(
            self.sandbox.api_key, base_url=self.sandbox.base_url, http_transport="httpx"
        ) as client:
            for i in range(100):
                call = await client.create_call(self.connection, phone_number_at(300_000 + i))
            self.call_id = call.id
        async with httpx.AsyncClient(
            base_url=self.sandbox.base_url, headers=self.sandbox.headers
        ) as http:
            path = self.sandbox.calls_path()
            self.call_body = (await http.get(f"{path}/{self.call_id}")).content
            self.page_body = (await http.get(path, params={"limit": 100})).content

    def client(self, transport: str) -> AsyncCaseyClient:
        settings: dict[str, Any] = {"base_url": self.sandbox.base_url}
        if transport == "mock":
            settings["transport"] = httpx.MockTransport(self._answer)
        else:
            settings["http_transport"] = transport
        return AsyncCaseyClient(self.sandbox.api_key, **settings)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        """The sandbox's own bytes, encoded once: the mock costs next to nothing itself."""
        json_type = {"content-type": "application/json"}
        if request.method == "POST":
            return httpx.Response(201, content=self.call_body, headers=json_type)
        if request.url.path.endswith("/calls"):
            return httpx.Response(200, content=self.page_body, headers=json_type)
        return httpx.Response(200, content=self.call_body, headers=json_type)


def workload(
    kind: str, client: AsyncCaseyClient, target: Target, concurrency: int
) -> Callable[[int], Awaitable[None]]:
    """An async function that sends ``n`` requests of that kind."""
    conn, call_id = target.connection, target.call_id
    counter = iter(range(10**9))

    async def get_sequential(n: int) -> None:
        for _ in range(n):
            await client.get_call(conn, call_id)

    async def get_concurrent(n: int) -> None:
        async def worker(share: int) -> None:
            for _ in range(share):
                await client.get_call(conn, call_id)

        shares = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
        await asyncio.gather(*(worker(s) for s in shares if s))

    async def create_sequential(n: int) -> None:
        for _ in range(n):
            i = next(counter)
            await client.create_call(conn, phone_number_at(400_000 + i % 500_000))

    async def list_page(n: int) -> None:
        for _ in range(n):
            await client.list_calls(conn, limit=100)

    return {
        "get_sequential": get_sequential,
        "get_concurrent": get_concurrent,
        "create_sequential": create_sequential,
        "list_page": list_page,
    }[kind]


async def measure(
    kind: str, transport: str, target: Target, requests: int, concurrency: int
) -> dict[str, float]:
    """One measurement: warm the pool up, then ``requests`` requests under the CPU clock."""
    async with target.client(transport) as client:
        send = workload(kind, client, target, concurrency)
        await send(min(WARM_UP, requests))
        if kind == "get_concurrent":  # open the pool's connections outside the measurement
            await send(concurrency)
        user0, sys0 = cpu_seconds()
        wall0 = time.perf_counter()
        await send(requests)
        wall = time.perf_counter() - wall0
        user1, sys1 = cpu_seconds()
    per = 1e6 / requests
    return {
        "cpu_us": round((user1 - user0 + sys1 - sys0) * per, 1),
        "user_us": round((user1 - user0) * per, 1),
        "system_us": round((sys1 - sys0) * per, 1),
        "wall_us": round(wall * per, 1),
    }


def spread(runs: list[dict[str, float]]) -> dict[str, Any]:
    cpu = [r["cpu_us"] for r in runs]
    return {
        "cpu_us_per_request": {
            "median": round(statistics.median(cpu), 1),
            "min": min(cpu),
            "max": max(cpu),
        },
        "user_us_median": round(statistics.median(r["user_us"] for r in runs), 1),
        "system_us_median": round(statistics.median(r["system_us"] for r in runs), 1),
        "wall_us_median": round(statistics.median(r["wall_us"] for r in runs), 1),
        "runs": runs,
    }


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each transport's median CPU per request over aiohttp's (or over the first one's)."""
    found: dict[str, dict[str, float]] = {}
    for kind, by_transport in results.items():
        medians = {t: r["cpu_us_per_request"]["median"] for t, r in by_transport.items()}
        base = "aiohttp" if "aiohttp" in medians else next(iter(medians))
        found[kind] = {
            f"{t}_over_{base}": round(m / medians[base], 2)
            for t, m in medians.items()
            if t != base and medians[base]
        }
    return found


def start_sandbox() -> EmbeddedSandbox:
    return start_sandbox_process(
        speed=100.0,
        ring_time_s=1.0,
        call_duration_mean_s=3600.0,  # the seeded calls stay live: the GETs read one as it is
        call_duration_distribution="fixed",
        outcome_weights={"completed": 1.0},
        concurrency_cap=0,
        rate_limit_per_s=0,
    )


async def run(args: argparse.Namespace, sandbox: EmbeddedSandbox) -> dict[str, Any]:
    target = Target(sandbox)
    await target.seed()
    kinds, transports = args.kinds.split(","), args.transports.split(",")
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        k: {t: [] for t in transports} for k in kinds
    }
    for round_number in range(args.rounds):
        order = transports if round_number % 2 == 0 else transports[::-1]
        for kind in kinds:
            for transport in order:
                requests = max(1, args.requests // 20) if kind == "list_page" else args.requests
                result = await measure(kind, transport, target, requests, args.concurrency)
                runs[kind][transport].append(result)
                print(f"# {kind} {transport}: {result}", file=sys.stderr, flush=True)
    return {k: {t: spread(r) for t, r in by_t.items()} for k, by_t in runs.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    sandbox = start_sandbox()
    try:
        results = asyncio.run(run(args, sandbox))
    finally:
        sandbox.stop()
    versions: dict[str, str] = {"httpx": httpx.__version__}
    if aiohttp_available():
        import aiohttp

        versions["aiohttp"] = aiohttp.__version__
    report = {
        "benchmark": "transport",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info() | {"versions": versions},
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "settings": {
            "requests": args.requests,
            "list_page_requests": max(1, args.requests // 20),
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "cpu": "this process, user + system, all threads (getrusage)",
        },
        "results": results,
        "ratios": ratios(results),
    }
    print(json.dumps(report, indent=2))
    if not args.no_save:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        write_json(Path(args.results_dir) / f"transport-{stamp}.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
