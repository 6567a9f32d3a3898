"""Warehouse sync at scale: a first sync of N calls with conversations, then one with nothing new.

Starts the sandbox in its own process (fast, no concurrency cap, no rate limit), creates N calls
keyed like a campaign's and waits until every one has ended, then runs ``casey_source`` through
``make_pipeline`` + ``run_source`` into a DuckDB file in a temporary warehouse directory:

1. ``first``: everything is new (calls, conversations, fields, transcripts);
2. ``second``: right after, nothing new;
3. ``new``: ``--m`` more calls, ended, then a sync (skipped with ``--m 0``).

Each sync runs in its own process, reaped with ``os.wait4`` (like the campaign benchmark's
contenders), so its CPU seconds and peak RSS are its own and not the sandbox's; requests are the
sandbox's own counters (``/_sandbox/stats``), by route. Prints one JSON object and writes it to
``benchmarks/results/warehouse_sync-<N>.json`` (``-w<K>`` added when ``--max-workers`` is not 8,
``-lag<S>`` when ``--list-lag`` is not the source's default, ``-lat<MS>ms`` with ``--latency-ms``).

    .venv/bin/python benchmarks/warehouse_sync.py                  # N=10,000, M=1,000
    .venv/bin/python benchmarks/warehouse_sync.py --n 500 --m 100 --no-save
    .venv/bin/python benchmarks/warehouse_sync.py --max-workers 16 --profile /tmp/prof
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import machine_info, run_child, tree_cpu_s, write_json
from benchmarks._numbers import PER_AREA_CODE, phone_number_at
from casey_flows.sandbox.embedded import EmbeddedSandbox, start_sandbox_process
from casey_flows.warehouse import source

HERE = Path(__file__).resolve().parent
CHILD = "_sync-child"  # argv[1] of the process that runs one sync
PIPELINE = "casey_bench"
DATASET = "casey"
DEFAULT_MAX_WORKERS = source.DEFAULT_MAX_WORKERS
DEFAULT_LIST_LAG_S = source.DEFAULT_LIST_LAG_SECONDS  # the campaign's re-dial wait
# Request kinds, by the sandbox's route template (method + path after /v1/backend).
KINDS = (
    ("list_calls", "GET", "/connections/{code}/calls"),
    ("get_call", "GET", "/connections/{code}/calls/{call_id}"),
    ("get_conversation", "GET", "/conversations/{conversation_id}"),
    ("get_fields", "GET", "/conversations/{conversation_id}/fields"),
    ("get_transcript", "GET", "/conversations/{conversation_id}/transcripts"),
    ("create_call", "POST", "/connections/{code}/calls"),
)
CONVERSATION_READS = ("get_conversation", "get_fields", "get_transcript")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="calls before the first sync")
    parser.add_argument("--m", type=int, default=1_000, help="new calls before a third sync")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS)
    parser.add_argument(
        "--list-lag",
        type=float,
        default=DEFAULT_LIST_LAG_S,
        help="casey_source's list_lag_seconds (the window each sync re-lists)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added API latency during the syncs, uniform in [0.5, 1.5] x this (loopback is ~1 ms;"
        " a hosted API is tens of ms, which is what max_workers is for)",
    )
    parser.add_argument("--speed", type=float, default=1000.0, help="sandbox time compression")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--create-concurrency", type=int, default=16)
    parser.add_argument(
        "--profile", default=None, help="directory: cProfile the first sync into it"
    )
    parser.add_argument("--results-dir", default=str(HERE / "results"))
    parser.add_argument("--no-save", action="store_true", help="print only; write no file")
    return parser.parse_args(argv)


def phone_number(i: int) -> str:
    """A distinct valid number per call (area code 628, the generator's second), never magic,
    so its outcome comes from the sandbox's mix and it has a line type in the warehouse."""
    if not 0 <= i < PER_AREA_CODE:
        raise ValueError(f"at most {PER_AREA_CODE:,} distinct non-magic numbers")
    return phone_number_at(PER_AREA_CODE + i)


async def create_calls(sandbox: EmbeddedSandbox, first: int, count: int, concurrency: int) -> float:
    """Create ``count`` calls keyed like a campaign's dispatches (campaign, contact, attempt);
    returns the seconds it took."""
    path = sandbox.calls_path()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=sandbox.base_url, headers=sandbox.headers, limits=limits, timeout=30
    ) as client:
        todo = iter(range(first, first + count))

        async def worker() -> None:
            for i in todo:
                body = {
                    "phone_number": phone_number(i),
                    "name": f"Contact {i}",
                    "context": {"dispatch_key": f"bench:{i:016x}:1", "campaign_id": "bench"},
                }
                (await client.post(path, json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def wait_all_ended(sandbox: EmbeddedSandbox, total: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        stats = sandbox.admin.stats()
        if stats["calls_total"] >= total and stats["live_calls"] == 0:
            return stats
        if time.monotonic() > deadline:
            raise RuntimeError(f"calls still live after {timeout_s} s: {stats['live_calls']}")
        time.sleep(0.2)


def api_latency(sandbox: EmbeddedSandbox, ms: float) -> None:
    """Sandbox latency on every API route (creates included): on for syncs, off to create."""
    sandbox.admin.set_faults(latency_ms=(ms / 2, ms * 1.5) if ms > 0 else None)


def requests_by_kind(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """What the sandbox answered between two stats snapshots, by kind (every status counted)."""
    templates = {f"{method} {path}": kind for kind, method, path in KINDS}
    kinds = dict.fromkeys([k for k, _, _ in KINDS] + ["other"], 0)
    for route, codes in after["requests"].items():
        sent = sum(codes.values()) - sum(before["requests"].get(route, {}).values())
        method, _, path = route.partition(" ")
        kind = templates.get(f"{method} {path.removeprefix('/v1/backend')}", "other")
        kinds[kind] += sent
    return kinds


def run_sync(
    phase: str,
    args: argparse.Namespace,
    sandbox: EmbeddedSandbox,
    workdir: Path,
    *,
    per: int,
    profile: bool = False,
) -> dict[str, Any]:
    """One sync in its own process; what it took, what it asked the API, what it loaded."""
    spec = {
        "base_url": sandbox.base_url,
        "api_key": sandbox.api_key,
        "connection": sandbox.call_out_connection,
        "max_workers": args.max_workers,
        "list_lag_seconds": args.list_lag,
        "profile": str(Path(args.profile) / phase) if profile and args.profile else None,
    }
    spec_path, out_path = workdir / f"{phase}.spec.json", workdir / f"{phase}.out.json"
    write_json(spec_path, spec)
    env = {
        **os.environ,
        "CASEY_FLOWS_WAREHOUSE_DIR": str(workdir / "warehouse"),
        "PREFECT_HOME": str(workdir / "prefect-home"),  # imported, never used: keep it apart
    }
    before, cpu_sandbox = sandbox.admin.stats(), tree_cpu_s(sandbox.pid)
    usage = run_child(
        [sys.executable, __file__, CHILD, str(spec_path), str(out_path)], env, timeout_s=3600
    )
    after = sandbox.admin.stats()
    cpu_sandbox = tree_cpu_s(sandbox.pid) - cpu_sandbox
    if usage.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"{phase} sync failed (exit {usage.returncode}); see stderr")
    out = json.loads(out_path.read_text())
    kinds = requests_by_kind(before, after)
    total = sum(kinds.values())
    seconds = out["seconds"]
    return {
        "seconds": seconds,
        "steps_s": out["steps_s"],
        "cpu_s": out["cpu_s"],
        "cpu_s_process": usage.cpu_s,
        "peak_rss_mb": usage.peak_rss_mb,
        "peak_rss_by_step_mb": out["peak_rss_by_step_mb"],
        "rss_before_sync_mb": out["rss_before_sync_mb"],
        "cpu_s_sandbox": round(cpu_sandbox, 2),
        "requests": {**kinds, "total": total},
        "requests_per_call": {k: round(v / per, 3) for k, v in kinds.items() if v}
        | {"total": round(total / per, 3) if per else None},
        "requests_per_s": round(total / seconds, 1) if seconds else None,
        "rows_loaded": out["rows_loaded"],
        "rows_in_warehouse": out["rows_in_warehouse"],
    }


def child_main(spec_path: str, out_path: str) -> None:
    """Run one sync (the measured part is make_pipeline + run_source) and write what it took."""
    spec = json.loads(Path(spec_path).read_text())
    from casey_flows.warehouse import casey_source
    from casey_flows.warehouse.pipeline import make_pipeline, run_source

    rss_before = _proc_status_mb("VmRSS")
    sampler = RssSampler()
    profiler = None
    if spec["profile"]:
        import cProfile

        profiler = cProfile.Profile()
    started, cpu_started = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    pipeline = make_pipeline(PIPELINE, "duckdb", DATASET)
    source = casey_source(
        [spec["connection"]],
        api_key=spec["api_key"],
        base_url=spec["base_url"],
        max_workers=spec["max_workers"],
        list_lag_seconds=spec["list_lag_seconds"],
    )
    run_source(pipeline, source)
    if profiler:
        profiler.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    sampler.stop()
    if profiler:
        _save_profile(profiler, Path(spec["profile"]))
    trace = pipeline.last_trace
    normalized = trace.last_normalize_info
    loaded = dict(normalized.row_counts) if normalized else {}
    with pipeline.sql_client() as sql:
        in_warehouse = {
            t: sql.execute_sql(f"SELECT count(*) FROM {DATASET}.{t}")[0][0]
            for t in sorted(pipeline.default_schema.data_table_names())
        }
    result = {
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "rss_before_sync_mb": rss_before,
        "steps_s": {
            s.step: round((s.finished_at - s.started_at).total_seconds(), 2)
            for s in trace.steps
            if s.finished_at is not None
        },
        "peak_rss_by_step_mb": {
            s.step: sampler.peak(s.started_at.timestamp(), s.finished_at.timestamp())
            for s in trace.steps
            if s.finished_at is not None
        },
        "rows_loaded": {t: n for t, n in sorted(loaded.items()) if not t.startswith("_dlt")},
        "rows_in_warehouse": in_warehouse,
    }
    Path(out_path).write_text(json.dumps(result, indent=2))


class RssSampler:
    """Our resident set size every 50 ms, so a peak can be put on a dlt step."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.samples: list[tuple[float, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        while not self._done.wait(interval_s):
            self.samples.append((time.time(), _proc_status_mb("VmRSS") or 0.0))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> float | None:
        inside = [mb for at, mb in self.samples if start <= at <= end]
        return max(inside) if inside else None


def _proc_status_mb(field: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _save_profile(profiler: Any, stem: Path) -> None:
    import io
    import pstats

    stem.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(stem.with_suffix(".pstats")))
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(60)
        stem.with_name(f"{stem.name}-{order}.txt").write_text(text.getvalue())


def versions() -> dict[str, str]:
    return {p: metadata.version(p) for p in ("dlt", "duckdb", "httpx", "pydantic")}


def result_name(args: argparse.Namespace) -> str:
    name = f"warehouse_sync-{args.n}"
    if args.max_workers != DEFAULT_MAX_WORKERS:
        name += f"-w{args.max_workers}"
    if args.list_lag != DEFAULT_LIST_LAG_S:
        name += f"-lag{args.list_lag:g}"
    if args.latency_ms:
        name += f"-lat{args.latency_ms:g}ms"
    return name + ".json"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = start_sandbox_process(
        seed=args.seed,
        speed=args.speed,
        concurrency_cap=0,  # off: 10,000 calls are created in seconds and all end soon after
        rate_limit_per_s=0,
    )
    report: dict[str, Any] = {
        "benchmark": "warehouse_sync",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info() | versions(),
        "settings": {
            "n": args.n,
            "m": args.m,
            "max_workers": args.max_workers,
            "list_lag_seconds": args.list_lag,
            "api_latency_ms": [args.latency_ms / 2, args.latency_ms * 1.5]
            if args.latency_ms
            else None,
            "destination": "duckdb",
            "sandbox": {
                "speed": args.speed,
                "seed": args.seed,
                "concurrency_cap": 0,
                "rate_limit_per_s": 0,
                "outcome_weights": "default mix",
            },
        },
    }
    try:
        with tempfile.TemporaryDirectory(prefix="warehouse-bench-") as tmp:
            workdir = Path(tmp)
            seconds = asyncio.run(create_calls(sandbox, 0, args.n, args.create_concurrency))
            stats = wait_all_ended(sandbox, args.n, timeout_s=120 + args.n / 50)
            report["calls"] = {
                "created": args.n,
                "create_seconds": round(seconds, 2),
                "by_status": stats["calls_by_status"],
            }
            api_latency(sandbox, args.latency_ms)
            first = run_sync("first", args, sandbox, workdir, per=args.n, profile=True)
            second = run_sync("second", args, sandbox, workdir, per=args.n)
            report["first_sync"] = first
            report["second_sync"] = second
            if args.m:
                api_latency(sandbox, 0)
                asyncio.run(create_calls(sandbox, args.n, args.m, args.create_concurrency))
                wait_all_ended(sandbox, args.n + args.m, timeout_s=120 + args.m / 50)
                api_latency(sandbox, args.latency_ms)
                report["new_calls_sync"] = run_sync("new", args, sandbox, workdir, per=args.m)
    finally:
        sandbox.stop()
    conversations = first["rows_loaded"].get("conversations", 0)
    report["first_sync"]["conversation_reads_per_conversation"] = {
        k: round(first["requests"][k] / conversations, 3) if conversations else None
        for k in CONVERSATION_READS
    }
    report["targets"] = {
        "second_sync_conversation_reads": sum(second["requests"][k] for k in CONVERSATION_READS),
        "second_sync_get_call": second["requests"]["get_call"],
        "second_sync_list_pages": second["requests"]["list_calls"],
        "second_sync_reads_nothing_final_again": all(
            second["requests"][k] == 0 for k in (*CONVERSATION_READS, "get_call")
        ),
        "note": "a sync re-lists (and skips unread) the calls created since list_lag_seconds "
        "before the previous sync started: right after a first sync that is every call created "
        "in that window, ceil(calls/100) pages plus one when the last page is full",
    }
    print(json.dumps(report, indent=2))
    if not args.no_save:
        write_json(Path(args.results_dir) / result_name(args), report)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == CHILD:
        child_main(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
