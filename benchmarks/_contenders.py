"""The three ways to run a call campaign that ``benchmarks/campaign.py`` compares.

Each runs alone in its own process (``python benchmarks/_contenders.py NAME SPEC OUT``) so its
peak RSS and CPU seconds are its own. Each writes one JSON object to OUT: the makespan (from the
first line of the campaign to its return; imports and block saving are outside it) and, when it
can see them itself, the wall-clock instant it saw each call end (``seen``).

- ``casey-flows``: ``casey_flows.flows.campaign.call_campaign`` against a real Prefect server,
  the contacts from the source the spec names: ``list`` (the ``contacts`` parameter), ``file``
  (a CSV it writes to a temporary directory, as ``contacts_file``) or ``sql`` (a SQLite file it
  writes, read through a saved ``SqlAlchemyConnector`` block as ``contacts_query``); with
  ``dry_run`` it plans only (``call_campaign(dry_run=True)``) and reports the preview.
- ``naive-prefect``: one Prefect task per contact (create, then GET every 2 s), mapped on a
  ``ThreadPoolTaskRunner`` of C threads: the polling pattern of Prefect's dbt Cloud and
  Databricks integrations. Its numbers always travel as a list parameter of its flow.
- ``bare``: asyncio + httpx, a semaphore of C, per-call GET polling, paced to the rate limit;
  no Prefect at all: the floor for orchestration overhead. Its numbers are a list in memory.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._numbers import iter_phone_numbers

BLOCK_NAME = "casey-bench"
CONTACTS_BLOCK = "sqlalchemy-connector/casey-bench-contacts"
CONTACTS_SQL = "SELECT phone_number FROM contacts ORDER BY id"
TERMINAL = frozenset({"completed", "busy", "no_answer", "failed"})


def phone_numbers(n: int) -> list[str]:
    return list(iter_phone_numbers(n))


def write_contacts_csv(path: Path, n: int) -> None:
    """N contacts as a CSV with one column, ``phone_number``, written as generated."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone_number\n")
        out.writelines(number + "\n" for number in iter_phone_numbers(n))


def write_contacts_sqlite(path: Path, n: int) -> None:
    """N contacts in a SQLite table ``contacts (id, phone_number)``."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, phone_number TEXT NOT NULL)")
        db.executemany(
            "INSERT INTO contacts (phone_number) VALUES (?)",
            ((number,) for number in iter_phone_numbers(n)),
        )


# -- casey-flows --------------------------------------------------------------------------------


class GcClock:
    """CPU seconds the cyclic garbage collector takes while it is installed, by generation
    (a collection runs in the thread that allocated past the threshold, so thread CPU time)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def start(self) -> GcClock:
        gc.callbacks.append(self._on_gc)
        return self

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.thread_time() - self._started
            self.collections[generation] += 1

    def report(self) -> dict[str, Any]:
        return {
            "gc_s": round(sum(self.seconds), 3),
            "gc_s_by_generation": [round(s, 3) for s in self.seconds],
            "gc_collections": self.collections,
        }


class ThreadClock:
    """CPU seconds of each thread of this process between :meth:`start` and :meth:`report`, by
    thread name (from ``/proc/self/task``: user + system, exact, not sampled), so the flow's CPU
    splits into the loop we run on and Prefect's own threads (its event-loop thread sends logs,
    events and heartbeats). Threads that ended meanwhile are counted together."""

    def start(self) -> ThreadClock:
        self._process_started = time.process_time()
        self._started = _thread_cpu()
        return self

    def report(self) -> dict[str, Any]:
        ended = _thread_cpu()
        names = {t.native_id: t.name for t in threading.enumerate()}
        by_name: dict[str, float] = {}
        for tid, cpu in ended.items():
            name = _UUID.sub("", names.get(tid, "?"))
            by_name[name] = by_name.get(name, 0.0) + cpu - self._started.get(tid, 0.0)
        total = time.process_time() - self._process_started
        by_name["(threads that ended)"] = total - sum(by_name.values())
        return {"flow_cpu_s_by_thread": {k: round(v, 3) for k, v in sorted(by_name.items())}}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Threads named after a run or lease id are counted under one name.
_UUID = re.compile(r"[-_]?[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def _thread_cpu() -> dict[int, float]:
    """Each live thread's CPU seconds so far, by native thread id."""
    seconds: dict[int, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended while we looked
            continue
        seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


async def contacts_arguments(spec: dict[str, Any], directory: Path) -> dict[str, Any]:
    """``call_campaign``'s contacts argument for the spec's source, its data written first."""
    source, n = spec["source"], spec["n"]
    if source == "list":
        return {"contacts": [{"phone_number": p} for p in iter_phone_numbers(n)]}
    if source == "file":
        path = directory / "contacts.csv"
        write_contacts_csv(path, n)
        return {"contacts_file": str(path)}
    if source == "sql":
        from prefect_sqlalchemy import SqlAlchemyConnector

        from casey_flows import ContactsQuery

        path = directory / "contacts.sqlite"
        write_contacts_sqlite(path, n)
        connector = SqlAlchemyConnector(connection_info=f"sqlite+pysqlite:///{path}")
        await connector.asave(CONTACTS_BLOCK.split("/", 1)[1], overwrite=True)
        return {"contacts_query": ContactsQuery(block=CONTACTS_BLOCK, query=CONTACTS_SQL)}
    raise ValueError(f"unknown contacts source {source!r}")


async def run_casey_flows(spec: dict[str, Any]) -> dict[str, Any]:
    """The real flow, called like a user would (call events as ``--call-events`` says)."""
    from casey_flows import CallLimits, CallRetries, CampaignExports
    from casey_flows.blocks.credentials import CaseyCredentials
    from casey_flows.campaign.calling_window import CallingWindow
    from casey_flows.flows.campaign import call_campaign

    await CaseyCredentials(api_key=spec["api_key"], base_url=spec["base_url"]).asave(
        BLOCK_NAME, overwrite=True
    )
    window = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
    with tempfile.TemporaryDirectory(prefix="casey-bench-contacts-") as directory:
        prepared = time.perf_counter()
        contacts = await contacts_arguments(spec, Path(directory))
        prepare_s = time.perf_counter() - prepared
        gc_clock = GcClock().start()  # the collector's share of the flow's CPU
        thread_clock = ThreadClock().start()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = await call_campaign(
            connection_code=spec["connection"],
            **contacts,
            credentials_block=BLOCK_NAME,
            campaign_id=spec["campaign_id"],
            dry_run=spec["dry_run"],
            calling_window=window,
            limits=CallLimits(
                max_concurrent_calls=spec["c"],
                max_requests_per_second=spec["client_rate"],
                poll_interval_seconds=spec["poll_s"],
                expected_call_seconds=spec["expected_call_s"],
            ),
            retries=CallRetries(max_attempts=1),
            # The outcome CSV in the contender's temporary directory, not left in /tmp.
            exports=CampaignExports(
                call_events=spec["call_events"], csv_path=str(Path(directory) / "outcomes.csv")
            ),
        )
        makespan = time.perf_counter() - started
        flow_cpu = time.process_time() - cpu_started
        gc_clock.stop()
    preview = getattr(result, "preview", None)
    return (
        {
            "makespan_s": makespan,
            "flow_cpu_s": flow_cpu,
            "contacts_prepare_s": round(prepare_s, 3),
            "outcomes": getattr(result, "counts", None),
            "preview": None
            if preview is None
            else preview.model_dump(mode="json") | {"headline": preview.headline()},
        }
        | gc_clock.report()
        | thread_clock.report()
    )


# -- naive Prefect ------------------------------------------------------------------------------


def run_naive_prefect(spec: dict[str, Any]) -> dict[str, Any]:
    """One task per contact; the task sleeps a fixed interval between GETs, like
    ``prefect_dbt.cloud.runs.wait_for_dbt_cloud_job_run`` and the Databricks jobs helpers."""
    from prefect import flow, task, unmapped
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    from casey_flows.blocks.credentials import CaseyCredentials

    CaseyCredentials(api_key=spec["api_key"], base_url=spec["base_url"]).save(
        BLOCK_NAME, overwrite=True
    )

    @task(name="call-and-wait", cache_policy=NO_CACHE)
    def call_and_wait(
        phone: str, credentials: CaseyCredentials, connection: str, poll_s: float
    ) -> dict[str, Any]:
        with credentials.get_sync_client() as client:
            call = client.create_call(connection, phone)
            while not call.is_terminal():
                time.sleep(poll_s)
                call = client.get_call(connection, call.id)
        return {"id": call.id, "seen": time.time(), "status": call.status}

    @flow(name="naive-campaign")
    def naive_campaign(phones: list[str], connection: str, poll_s: float) -> list[dict[str, Any]]:
        credentials = CaseyCredentials.load(BLOCK_NAME)
        futures = call_and_wait.map(
            phones, unmapped(credentials), unmapped(connection), unmapped(poll_s)
        )
        return [f.result() for f in futures]

    runner = ThreadPoolTaskRunner(max_workers=spec["c"])
    started = time.perf_counter()
    done = naive_campaign.with_options(task_runner=runner)(
        phone_numbers(spec["n"]), spec["connection"], spec["poll_s"]
    )
    makespan = time.perf_counter() - started
    return {"makespan_s": makespan, "seen": {d["id"]: d["seen"] for d in done}}


# -- bare asyncio + httpx -----------------------------------------------------------------------


async def run_bare(spec: dict[str, Any]) -> dict[str, Any]:
    """The least anyone could write: create, sleep, GET, repeat; one shared token bucket."""
    import httpx

    from casey_flows.client.ratelimit import TokenBucket

    bucket = TokenBucket(spec["client_rate"])
    slots = asyncio.Semaphore(spec["c"])
    seen: dict[str, float] = {}
    path = f"/connections/{spec['connection']}/calls"
    limits = httpx.Limits(max_connections=spec["c"], max_keepalive_connections=spec["c"])

    async with httpx.AsyncClient(
        base_url=spec["base_url"],
        headers={"Authorization": f"Bearer {spec['api_key']}"},
        limits=limits,
        timeout=30,
    ) as http:

        async def send(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
            while True:
                await bucket.acquire()
                response = await http.request(method, url, **kwargs)
                if response.status_code != 429:
                    response.raise_for_status()
                    return response.json()["data"]
                await asyncio.sleep(float(response.headers.get("Retry-After-Ms", 1000)) / 1000)

        async def call_and_wait(phone: str) -> None:
            async with slots:
                call = await send("POST", path, json={"phone_number": phone})
                while call["status"] not in TERMINAL:
                    await asyncio.sleep(spec["poll_s"])
                    call = await send("GET", f"{path}/{call['id']}")
                seen[call["id"]] = time.time()

        started = time.perf_counter()
        await asyncio.gather(*(call_and_wait(p) for p in phone_numbers(spec["n"])))
        makespan = time.perf_counter() - started
    return {"makespan_s": makespan, "seen": seen}


CONTENDERS = {
    "casey-flows": lambda spec: asyncio.run(run_casey_flows(spec)),
    "naive-prefect": run_naive_prefect,
    "bare": lambda spec: asyncio.run(run_bare(spec)),
}


def main(argv: list[str]) -> int:
    name, spec_path, out_path = argv
    spec = json.loads(Path(spec_path).read_text())
    result = CONTENDERS[name](spec)
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
