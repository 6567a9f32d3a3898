"""Campaign speed, side by side: casey-flows vs naive Prefect vs a bare asyncio script.

Starts the sandbox in its own process with a concurrent-call cap C, a request-rate limit R and
calls that hold their slot for D seconds, then runs N contacts through each contender in turn
(same sandbox settings, reset in between), each in its own process. Prints one JSON object and
writes it to ``benchmarks/results/campaign-<utc time>-n<N>[-file|-sql][-dry-run].json`` with the
machine it ran on.

    .venv/bin/python benchmarks/campaign.py                      # N=2,000, all three
    .venv/bin/python benchmarks/campaign.py --n 10000 --contenders casey-flows
    .venv/bin/python benchmarks/campaign.py --scenario 100k      # N=100,000 from a CSV file
    .venv/bin/python benchmarks/campaign.py --scenario 1m-dry-run  # plan 1,000,000, dial nobody

casey-flows takes its contacts from ``--source``: ``list`` (the ``contacts`` parameter, the
default while N fits Prefect's parameter cap), ``file`` (a CSV, ``contacts_file``; the default
above the cap) or ``sql`` (a SQLite file through a saved ``SqlAlchemyConnector`` block,
``contacts_query``). naive Prefect and the bare script always take a list. ``--dry-run`` runs
``call_campaign(dry_run=True)`` through the real server and reports what planning cost.

The lower bound is max(N/R, ceil(N/C)*D): nobody can create faster than the rate limit, and
C slots each held D seconds by ceil(N/C) waves of calls. It is honest only because the sandbox is
configured so that every call holds its slot for D: ring time 0, a fixed talk time D for calls
that connect, no-answer after exactly D, voicemails of D x U(0.75, 1.25) (mean D); busy and
failed outcomes are left out because the sandbox ends them almost at once (they would make the
bound too high, i.e. flattering). See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._contenders import phone_numbers
from benchmarks._measure import (
    PrefectServer,
    machine_info,
    percentile,
    run_child,
    start_prefect_server,
    tree_cpu_s,
    write_json,
)
from benchmarks._numbers import MAX_NUMBERS
from casey_flows.client.transports import TRANSPORT_ENV, resolve_transport_name
from casey_flows.sandbox.embedded import EmbeddedSandbox, start_sandbox_process
from casey_flows.tasks.events import NOT_ENDED_EVENTS, SUCCESS_STATUS

HERE = Path(__file__).resolve().parent
CONTENDER_SCRIPT = HERE / "_contenders.py"
ALL_CONTENDERS = ("casey-flows", "naive-prefect", "bare")
NEEDS_PREFECT = frozenset({"casey-flows", "naive-prefect"})
SOURCES = ("list", "file", "sql")
# How each contender receives its contacts, said in the report.
CONTACTS_CARRIER: dict[str, str | dict[str, str]] = {
    "casey-flows": {
        "list": "contacts= (a flow parameter, stored by the Prefect server)",
        "file": "contacts_file= (a CSV the contender writes to a temporary directory)",
        "sql": "contacts_query= (a SQLite file read through a saved SqlAlchemyConnector block)",
    },
    "naive-prefect": "a list of numbers as its flow's parameter (always; --source is casey-flows')",
    "bare": "a list of numbers in memory, no Prefect (always; --source is casey-flows')",
}
# Room left under the parameter cap for call_campaign's other parameters (a few kB as JSON).
OTHER_PARAMETERS_BYTES = 16 * 1024
TERMINAL_STATUSES = ("completed", "busy", "no_answer", "failed")
# Named scenarios: arguments put before the command line's own, which override them.
SCENARIOS: dict[str, list[str]] = {
    name: shlex.split(words)
    for name, words in {
        "10k": "--n 10000 --c 100 --r 100 --d 2 --source list --contenders casey-flows "
        "--call-events failures",
        "100k": "--n 100000 --c 1000 --r 500 --d 2 --source file --contenders casey-flows "
        "--call-events failures",
        "1m-dry-run": "--n 1000000 --c 1000 --r 500 --d 2 --source file --dry-run",
    }.items()
}
# Mixed outcomes that all hold a dial slot for ~D on the sandbox (see the module docstring).
OUTCOME_WEIGHTS = {"completed": 0.6, "agent_ended": 0.1, "voicemail": 0.15, "no_answer": 0.15}
SIM_CALL_SECONDS = 60.0  # simulated talk time; speed = SIM_CALL_SECONDS / D


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        help="a named set of the arguments below (benchmarks/README.md), which arguments "
        "given as well override: "
        + "; ".join(f"{name}: {shlex.join(words)}" for name, words in SCENARIOS.items()),
    )
    parser.add_argument("--n", type=int, default=2000, help="contacts")
    parser.add_argument("--c", type=int, default=100, help="sandbox concurrent-call cap")
    parser.add_argument("--r", type=float, default=100.0, help="sandbox request rate limit /s")
    parser.add_argument("--d", type=float, default=2.0, help="seconds a call holds its slot")
    parser.add_argument(
        "--contenders",
        help="comma-separated, run in order (default: all three; casey-flows with --dry-run)",
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        help="where casey-flows reads its contacts: list (the contacts parameter), file (a CSV, "
        "contacts_file) or sql (SQLite through a SqlAlchemyConnector block, contacts_query). "
        "Default: list while N fits Prefect's parameter cap, else file (file with --dry-run). "
        "naive-prefect and bare always take a list",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="casey-flows only: call_campaign(dry_run=True), i.e. validate and plan N contacts "
        "and dial nobody; reports planning time, CPU, peak RSS and the preview",
    )
    parser.add_argument(
        "--expected-call-seconds",
        type=float,
        help="casey-flows' limits.expected_call_seconds, the call length a dry run's ETA "
        "assumes (default: D)",
    )
    parser.add_argument("--casey-poll", type=float, default=0.15, help="casey-flows poll (s)")
    parser.add_argument(
        "--call-events",
        choices=["all", "failures", "none"],
        default="all",
        help="casey-flows' exports.call_events ('all' lets the benchmark read detection times "
        "of every call back from events, 'failures' those of calls that did not end completed; "
        "the flow's own default is 'failures')",
    )
    parser.add_argument(
        "--http-transport",
        choices=["aiohttp", "httpx"],
        help="casey-flows' async client transport (CASEY_FLOWS_HTTP_TRANSPORT); default: the "
        "client's own default",
    )
    parser.add_argument("--naive-poll", type=float, default=2.0, help="naive GET interval (s)")
    parser.add_argument("--bare-poll", type=float, default=1.0, help="bare GET interval (s)")
    parser.add_argument(
        "--rate-headroom",
        type=float,
        default=0.95,
        help="paced clients (casey-flows, bare) send at most this fraction of R",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds before a contender is stopped (default: 15x the bound + 60, at least "
        "120; a dry run 300 + 3 ms per contact)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results-dir", default=str(HERE / "results"))
    parser.add_argument("--no-save", action="store_true", help="print only; write no file")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run each contender under py-spy (collapsed stacks, on-CPU samples only) into "
        "DIR/<contender>.txt; summarise with benchmarks/flame_summary.py. Its CPU numbers then "
        "include the sampler's",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only threads holding the GIL (py-spy --gil), so waits in "
        "epoll or on a lock never count as running; misses CPU spent with the GIL released "
        "(socket writes)",
    )
    scenario = parser.parse_known_args(argv)[0].scenario
    args = parser.parse_args([*SCENARIOS.get(scenario or "", []), *argv])
    if args.contenders is None:
        args.contenders = "casey-flows" if args.dry_run else ",".join(ALL_CONTENDERS)
    names = args.contenders.split(",")
    unknown = set(names) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; known: {', '.join(ALL_CONTENDERS)}")
    if args.dry_run and names != ["casey-flows"]:
        parser.error("--dry-run plans with casey-flows only: --contenders casey-flows")
    if args.n > MAX_NUMBERS:
        parser.error(f"--n: the number generator has {MAX_NUMBERS:,} distinct numbers")
    if args.expected_call_seconds is None:
        args.expected_call_seconds = args.d
    cap = parameter_cap()
    if args.source is None:
        fits = not cap or list_parameter_bytes(args.n, contact_dicts=True) <= cap
        args.source = "list" if fits and not args.dry_run else "file"
    for name in names:
        if name == "bare" or (name == "casey-flows" and args.source != "list"):
            continue
        size = list_parameter_bytes(args.n, contact_dicts=name == "casey-flows")
        if cap and size > cap:
            hint = "--source file or sql" if name == "casey-flows" else "a smaller --n"
            parser.error(
                f"{name} would pass {args.n:,} contacts as a flow parameter of ~{size:,} bytes "
                f"with the other parameters, over the Prefect server's cap of {cap:,} "
                f"(PREFECT_SERVER_API_MAX_PARAMETER_SIZE): {hint}"
            )
    return args


def parameter_cap() -> int:
    """The Prefect server's cap on a run's parameters in bytes (0: none); the benchmark's
    servers inherit this process's settings."""
    from prefect.settings import get_current_settings

    return get_current_settings().server.api.max_parameter_size


def list_parameter_bytes(n: int, *, contact_dicts: bool) -> int:
    """The compact JSON of N contacts as a list parameter (every generated number has the same
    length), plus room for the flow's other parameters."""
    number = phone_numbers(1)[0]
    item = {"phone_number": number} if contact_dicts else number
    return n * (len(json.dumps(item, separators=(",", ":"))) + 1) + 1 + OTHER_PARAMETERS_BYTES


def carrier(name: str, source: str) -> str:
    """How a contender receives its contacts (only casey-flows reads ``--source``)."""
    found = CONTACTS_CARRIER[name]
    return found[source] if isinstance(found, dict) else found


def lower_bound(n: int, c: int, r: float, d: float) -> float:
    return max(n / r, math.ceil(n / c) * d)


def start_sandbox(args: argparse.Namespace) -> EmbeddedSandbox:
    """Every outcome holds its slot for ~D, so ceil(N/C)*D really is a floor."""
    sim = SIM_CALL_SECONDS
    return start_sandbox_process(
        seed=args.seed,
        speed=sim / args.d,
        ring_time_s=0.0,
        no_answer_timeout_s=sim,
        call_duration_mean_s=sim,
        call_duration_distribution="fixed",
        voicemail_duration_s=sim,
        outcome_weights=OUTCOME_WEIGHTS,
        concurrency_cap=args.c,
        rate_limit_per_s=args.r,
        rate_limit_burst=max(1, int(args.r)),
    )


def child_spec(name: str, args: argparse.Namespace, sandbox: EmbeddedSandbox) -> dict[str, Any]:
    poll = {
        "casey-flows": args.casey_poll,
        "naive-prefect": args.naive_poll,
        "bare": args.bare_poll,
    }
    return {
        "n": args.n,
        "c": args.c,
        "client_rate": args.r * args.rate_headroom,
        "poll_s": poll[name],
        "base_url": sandbox.base_url,
        "api_key": sandbox.api_key,
        "connection": sandbox.call_out_connection,
        "campaign_id": f"bench-{datetime.now(timezone.utc):%Y%m%d%H%M%S}",
        "call_events": args.call_events,
        "source": args.source,
        "dry_run": args.dry_run,
        "expected_call_s": args.expected_call_seconds,
    }


def child_env(
    server: PrefectServer | None, home: Path, http_transport: str | None = None
) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    if server is not None:
        env["PREFECT_API_URL"] = server.api_url
    if http_transport:
        env[TRANSPORT_ENV] = http_transport
    return env


def classify_requests(by_route: dict[str, dict[str, int]]) -> dict[str, int]:
    """create / get / list, every status counted (a 429 was still a request sent).

    The sandbox answers a rate-limited request before routing it, so those 429s arrive as
    ``<unmatched>``: they are counted apart as ``rate_limited`` (kind unknown).
    """
    kinds = {"create": 0, "get": 0, "list": 0, "rate_limited": 0, "other": 0}
    for route, codes in by_route.items():
        method, _, path = route.partition(" ")
        total = sum(codes.values())
        if path == "<unmatched>":
            kinds["rate_limited"] += codes.get("429", 0)
            kinds["other"] += total - codes.get("429", 0)
        elif method == "POST" and path.endswith("/calls"):
            kinds["create"] += total
        elif method == "GET" and path.endswith("/calls"):
            kinds["list"] += total
        elif method == "GET" and "/calls/" in path:
            kinds["get"] += total
        else:
            kinds["other"] += total
    return kinds


def sandbox_calls(sandbox: EmbeddedSandbox) -> list[dict[str, Any]]:
    """Every call, read after the stats snapshot so these requests are not charged to anyone."""
    calls: list[dict[str, Any]] = []
    with httpx.Client(base_url=sandbox.base_url, headers=sandbox.headers, timeout=30) as http:
        offset = 0
        while True:
            response = http.get(sandbox.calls_path(), params={"limit": 100, "offset": offset})
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After-Ms", 1000)) / 1000)
                continue
            response.raise_for_status()
            page = response.json()["data"]
            calls.extend(page)
            if len(page) < 100:
                return calls
            offset += len(page)


EVENTS_PAGE = 50  # the server's largest page of events
SLICE_EVENTS = 2000  # events per time slice read through next-page links
SETTLE_S, STALL_S = 120.0, 15.0
ENDED_EVENT_FILTER = {
    "prefix": ["casey.call."],
    "exclude_name": [f"casey.call.{what}" for what in sorted(NOT_ENDED_EVENTS)],
}
MICROSECOND = timedelta(microseconds=1)


class CallEventReader:
    """Every ``casey.call.<status>`` event (a call's end) in a time range, read back from the
    Prefect server's API, each exactly once.

    The server pages a filter by OFFSET over events ordered by ``occurred`` only (page links
    carry the filter and the offset; at most 50 a page): reading 10,000+ events that way costs
    a scan of every earlier row per page, and events with the same ``occurred`` may come back in
    either order on two pages. So the range is cut into disjoint time slices of at most
    ``SLICE_EVENTS`` (halved while the server counts more), each read through its page links
    and checked: as many distinct event ids as the server counted in it, else read again.
    """

    def __init__(self, http: httpx.Client, api_url: str) -> None:
        self.http, self.api_url = http, api_url
        self.events: dict[str, dict[str, Any]] = {}
        self.requests = self.slices = self.rereads = 0
        self.short_slices: list[str] = []

    def _first_page(self, since: datetime, until: datetime, limit: int) -> dict[str, Any]:
        self.requests += 1
        body = {
            "filter": {
                "occurred": {"since": since.isoformat(), "until": until.isoformat()},
                "event": ENDED_EVENT_FILTER,
                "order": "ASC",
            },
            "limit": limit,
        }
        response = self.http.post(self.api_url + "/events/filter", json=body)
        return response.raise_for_status().json()

    def count(self, since: datetime, until: datetime) -> int:
        return int(self._first_page(since, until, 0)["total"])

    def read(self, since: datetime, until: datetime) -> None:
        """Every event of [since, until] (both inclusive) into ``self.events``."""
        page = self._first_page(since, until, EVENTS_PAGE)
        if page["total"] > SLICE_EVENTS and until - since > 2 * MICROSECOND:
            middle = since + (until - since) / 2
            self.read(since, middle)
            self.read(middle + MICROSECOND, until)
            return
        self.slices += 1
        for _ in range(3):
            found = self._pages(page)
            if len(found) >= page["total"]:
                break
            self.rereads += 1
            page = self._first_page(since, until, EVENTS_PAGE)
        else:
            self.short_slices.append(f"{since.isoformat()}..{until.isoformat()}")
        self.events.update(found)

    def _pages(self, page: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        while True:
            found.update((event["id"], event) for event in page["events"])
            if not page.get("next_page"):
                return found
            self.requests += 1
            page = self.http.get(page["next_page"]).raise_for_status().json()


def read_call_events(
    server: PrefectServer, since: datetime, expected: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """When the campaign flow saw each call end: the ``occurred`` of its ``casey.call.<status>``
    event, emitted by the engine's on_ended hook the moment a poll finds the call terminal.
    Also what was read: counts the report checks against the calls the sandbox ended."""
    started = time.monotonic()
    with httpx.Client(timeout=60) as http:
        reader = CallEventReader(http, server.api_url)
        # The server persists events asynchronously: wait until it counts them all, or until
        # the count stops growing.
        counted, last_change = -1, time.monotonic()
        while time.monotonic() - started < SETTLE_S:
            now = reader.count(since, datetime.now(timezone.utc))
            if now != counted:
                counted, last_change = now, time.monotonic()
            if counted >= expected or time.monotonic() - last_change > STALL_S:
                break
            time.sleep(1)
        until = datetime.now(timezone.utc)
        counted = reader.count(since, until)
        reader.read(since, until)
    seen: dict[str, float] = {}
    per_call: dict[str, int] = {}
    for event in reader.events.values():
        call_id = event["resource"]["prefect.resource.id"].removeprefix("casey.call.")
        occurred = datetime.fromisoformat(event["occurred"]).timestamp()
        seen[call_id] = min(occurred, seen.get(call_id, occurred))
        per_call[call_id] = per_call.get(call_id, 0) + 1
    report = {
        "expected": expected,
        "counted_by_server": counted,
        "read": len(reader.events),
        "calls": len(seen),
        "calls_with_several_end_events": sum(1 for k in per_call.values() if k > 1),
        "complete": len(reader.events) == counted and len(seen) == expected,
        "requests": reader.requests,
        "slices": reader.slices,
        "slices_read_again": reader.rereads,
        "slices_short": reader.short_slices,
        "seconds": round(time.monotonic() - started, 2),
    }
    return seen, report


def detection_latency(calls: list[dict[str, Any]], seen: dict[str, float]) -> dict[str, Any]:
    """Seconds from the sandbox's terminal ``updated_at`` to the instant we saw the call end."""
    ended = {
        c["id"]: datetime.fromisoformat(c["updated_at"]).timestamp()
        for c in calls
        if c["status"] in ("completed", "busy", "no_answer", "failed")
    }
    lags = [seen[i] - t for i, t in ended.items() if i in seen]
    if not lags:
        return {"count": 0}
    return {
        "count": len(lags),
        "median_s": round(statistics.median(lags), 3),
        "p95_s": round(percentile(lags, 0.95) or 0.0, 3),
        "max_s": round(max(lags), 3),
    }


def sandbox_span(calls: list[dict[str, Any]]) -> float | None:
    """First create to last terminal transition, on the sandbox's clock."""
    if not calls:
        return None
    first = min(datetime.fromisoformat(c["created_at"]) for c in calls)
    last = max(datetime.fromisoformat(c["updated_at"]) for c in calls)
    return round((last - first).total_seconds(), 3)


def profiled(cmd: list[str], out: Path, gil_only: bool) -> list[str]:
    """``cmd`` under py-spy: raw collapsed stacks of the samples where a thread was on CPU
    (``gil_only``: where it held the GIL)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    sampler = ["record", "--format", "raw", "--rate", "250", "--nonblocking", "--threads"]
    sampler += ["--gil"] if gil_only else []
    return [str(spy), *sampler, "--output", str(out), "--", *cmd]


def run_contender(
    name: str,
    args: argparse.Namespace,
    sandbox: EmbeddedSandbox,
    server: PrefectServer | None,
    workdir: Path,
) -> dict[str, Any]:
    """Reset the sandbox, run one contender in its own process, and read what it cost."""
    sandbox.admin.reset()
    spec = child_spec(name, args, sandbox)
    spec_path, out_path = workdir / f"{name}.spec.json", workdir / f"{name}.out.json"
    write_json(spec_path, spec)
    out_path.unlink(missing_ok=True)
    bound = lower_bound(args.n, args.c, args.r, args.d)
    cpu_sandbox, cpu_server = tree_cpu_s(sandbox.pid), server and tree_cpu_s(server.proc.pid)
    started_at = datetime.now(timezone.utc)
    cmd = [sys.executable, str(CONTENDER_SCRIPT), name, str(spec_path), str(out_path)]
    if args.profile:
        cmd = profiled(cmd, Path(args.profile) / f"{name}.txt", args.profile_gil)
    usage = run_child(
        cmd,
        child_env(server, workdir / f"{name}-home", args.http_transport),
        timeout_s=args.timeout or default_timeout(args, bound),
    )
    stats = sandbox.admin.stats()  # first: nothing below may count as the contender's traffic
    cpu_sandbox = tree_cpu_s(sandbox.pid) - cpu_sandbox
    cpu_server = server and tree_cpu_s(server.proc.pid) - cpu_server
    calls = sandbox_calls(sandbox)
    out = json.loads(out_path.read_text()) if out_path.exists() else {}
    n = args.n
    kinds = classify_requests(stats["requests"])
    finished = usage.returncode == 0 and not usage.timed_out
    is_casey = name == "casey-flows"
    cost = {
        "source": args.source if is_casey else "list",
        "contacts_carrier": carrier(name, args.source),
        "contacts_prepare_s": out.get("contacts_prepare_s"),
        "http_transport": resolve_transport_name(args.http_transport) if is_casey else None,
        "cpu_ms_per_call": round(1000 * usage.cpu_s / n, 3) if usage.cpu_s else None,
        # From the flow's start to its return, in the contender (imports and set-up excluded).
        "flow_cpu_ms_per_call": round(1000 * out["flow_cpu_s"] / n, 3)
        if out.get("flow_cpu_s")
        else None,
        "flow_cpu_s": round(out["flow_cpu_s"], 2) if out.get("flow_cpu_s") else None,
        "gc": {k: out[k] for k in ("gc_s", "gc_s_by_generation", "gc_collections") if k in out}
        or None,
        "flow_cpu_s_by_thread": out.get("flow_cpu_s_by_thread"),
        "server_cpu_ms_per_call": round(1000 * cpu_server / n, 3) if cpu_server else None,
        "peak_rss_mb": usage.peak_rss_mb,
        "requests": {**kinds, "total": sum(kinds.values())},
        "requests_per_call": {k: round(v / n, 3) for k, v in kinds.items()}
        | {"total": round(sum(kinds.values()) / n, 3)},
        "cpu_s": usage.cpu_s,
        "cpu_user_s": usage.user_s,
        "cpu_system_s": usage.system_s,
        "cpu_s_prefect_server": round(cpu_server, 2) if cpu_server is not None else None,
        "cpu_s_sandbox": round(cpu_sandbox, 2),
    }
    if args.dry_run:
        plan = dry_run_numbers(out, finished, n, bound, stats)
        exit_status = {"returncode": usage.returncode, "timed_out": usage.timed_out}
        return {"contender": name, "mode": "dry run"} | plan | exit_status | cost
    terminal = sum(1 for c in calls if c["status"] in TERMINAL_STATUSES)
    seen, events = out.get("seen"), None
    if seen is None and server is not None and is_casey and spec["call_events"] != "none":
        # Detection times come from the per-call events the flow emits: of every call with
        # call_events=all, of the calls that did not end completed with "failures".
        reported = sum(
            1
            for c in calls
            if c["status"] in TERMINAL_STATUSES
            and (spec["call_events"] == "all" or c["status"] != SUCCESS_STATUS)
        )
        seen, events = read_call_events(server, started_at, reported)
    makespan = out.get("makespan_s")
    return {
        "contender": name,
        "mode": "campaign",
        "ok": finished and terminal == n,
        "returncode": usage.returncode,
        "timed_out": usage.timed_out,
        "n": n,
        "makespan_s": round(makespan, 2) if makespan else None,
        "bound_s": round(bound, 2),
        "ratio_to_bound": round(makespan / bound, 3) if makespan else None,
        "sandbox_span_s": sandbox_span(calls),
        "poll_interval_s": spec["poll_s"],
        "call_events": spec["call_events"] if is_casey else None,
        "client_rate_limit_per_s": spec["client_rate"] if name != "naive-prefect" else None,
        **cost,
        "responses_429": stats["responses_429"]["total"],
        "requests_by_route": stats["requests"],
        "creates_total": stats["creates_total"],
        "duplicate_numbers": len(stats["duplicates"]["phone_numbers"]),
        "calls_terminal": terminal,
        "calls_by_status": stats.get("calls_by_status"),
        "max_in_flight": stats.get("max_in_flight_by_connection"),
        "events_read_back": events,
        "detection_latency": detection_latency(calls, seen or {})
        | {
            "source": "prefect events" if out.get("seen") is None else "in-process",
            "over": "calls that did not end completed"
            if is_casey and spec["call_events"] == "failures"
            else "every ended call",
        },
        "outcomes": out.get("outcomes"),
    }


def default_timeout(args: argparse.Namespace, bound: float) -> float:
    if args.dry_run:
        return 300.0 + 0.003 * args.n
    return max(120.0, 15 * bound + 60)


def dry_run_numbers(
    out: dict[str, Any], finished: bool, n: int, bound: float, stats: dict[str, Any]
) -> dict[str, Any]:
    """A dry run's plan and what planning took: nobody may have been dialled, and every contact
    is planned or deferred."""
    preview = out.get("preview") or {}
    planned = preview.get("dialled_now", 0) + preview.get("deferred", 0)
    planning = out.get("makespan_s")
    return {
        "ok": finished and planned == n and stats["creates_total"] == 0,
        "n": n,
        # From calling call_campaign(dry_run=True) to its return, in the contender.
        "planning_s": round(planning, 2) if planning else None,
        "creates_total": stats["creates_total"],
        "headline": preview.get("headline"),
        "eta": preview.get("eta"),
        "eta_makespan_s": preview.get("makespan_seconds"),
        "bound_s": round(bound, 2),
        # The preview's makespan over max(N/R, ceil(N/C)*D): ~1 when expected_call_seconds=D.
        "eta_over_bound": round(preview["makespan_seconds"] / bound, 3)
        if preview.get("makespan_seconds")
        else None,
        "preview": preview or None,
        "outcomes": out.get("outcomes"),
    }


def targets(results: dict[str, dict[str, Any]], n: int) -> dict[str, Any]:
    """The issue's targets, reported (never asserted)."""
    casey = results.get("casey-flows")
    naive = results.get("naive-prefect")
    found: dict[str, Any] = {}
    if casey and casey.get("ratio_to_bound"):
        found[f"casey_ratio_le_1.10_at_n{n}"] = casey["ratio_to_bound"] <= 1.10
        found["casey_requests_per_call_le_1.2"] = casey["requests_per_call"]["total"] <= 1.2
        if n >= 10_000:
            found["casey_peak_rss_le_300mb"] = casey["peak_rss_mb"] <= 300
    if casey and naive and casey.get("makespan_s") and naive.get("makespan_s"):
        speedup = naive["makespan_s"] / casey["makespan_s"]
        found["speedup_vs_naive"] = round(speedup, 2)
        found["speedup_vs_naive_ge_3"] = speedup >= 3
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.contenders.split(",")
    sandbox = start_sandbox(args)
    server: PrefectServer | None = None
    report: dict[str, Any] = {
        "benchmark": "campaign",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "scenario": args.scenario,
            "mode": "dry run" if args.dry_run else "campaign",
            "n": args.n,
            "source": args.source,
            "contacts_carrier": {name: carrier(name, args.source) for name in names},
            "concurrency_cap": args.c,
            "rate_limit_per_s": args.r,
            "rate_limit_burst": max(1, int(args.r)),
            "call_slot_seconds": args.d,
            "sandbox_speed": SIM_CALL_SECONDS / args.d,
            "ring_time_s": 0.0,
            "call_duration_distribution": "fixed",
            "voicemail": "D x U(0.75, 1.25)",
            "outcome_weights": OUTCOME_WEIGHTS,
            "expected_call_seconds": args.expected_call_seconds,
            "call_events": args.call_events,
            "seed": args.seed,
            "prefect_server": "prefect server start: a fresh subprocess per Prefect contender, "
            "own PREFECT_HOME, SQLite, UI and scheduler off",
        },
        "results": {},
    }
    try:
        with tempfile.TemporaryDirectory(prefix="casey-bench-") as tmp:
            workdir = Path(tmp)
            for name in names:
                # A fresh server per Prefect contender: a server still digesting the previous
                # contender's task runs and events would steal CPU from the next one.
                if name in NEEDS_PREFECT:
                    server = start_prefect_server(workdir / f"server-{name}")
                print(f"# running {name} (n={args.n}) ...", file=sys.stderr, flush=True)
                report["results"][name] = run_contender(name, args, sandbox, server, workdir)
                print(json.dumps(report["results"][name]), file=sys.stderr, flush=True)
                if server is not None:
                    server.stop()
                    server = None
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()
    report["targets"] = {} if args.dry_run else targets(report["results"], args.n)
    print(json.dumps(report, indent=2))
    if not args.no_save:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        tail = "-dry-run" if args.dry_run else ""
        tail = (f"-{args.source}" if args.source != "list" else "") + tail
        write_json(Path(args.results_dir) / f"campaign-{stamp}-n{args.n}{tail}.json", report)
    return 0 if all(r["ok"] for r in report["results"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
