"""Secret hygiene: run every flow with a canary key and canary numbers, then read back
everything Prefect stored and look for them. Zero hits.

Scanned through the Prefect API: flow runs (names, state messages, state details, parameters:
the key only, since place_call's parameter is the number the user typed), task runs (names,
states, inputs), logs, artifacts, events; plus every exception a failed run raises and the
log records this process saw. The canaries are distinctive, so a hit is a real leak.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import State

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.core.waiting import WaitPolicy
from casey_flows.flows.campaign import call_campaign
from casey_flows.flows.place_call import place_call
from casey_flows.flows.report import call_report
from casey_flows.flows.status import campaign_status
from casey_flows.flows.sync import sync_calls
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox
from casey_flows.tasks.calls import create_call, get_call, list_calls, wait_for_call, wait_for_calls
from tests.reliability.conftest import save_block

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_server")]

CANARY_KEY = "sk_test_CANARYKEY_a83f5d19c7e2b604"
CANARY_BAD_KEY = "sk_test_CANARYBADKEY_5e1c0b7a9d3f2864"
CANARY_DB_PASSWORD = "CANARYDBPASS7f3e91"  # a warehouse password, in a Secret block
KEY_MARKERS = [CANARY_KEY, CANARY_BAD_KEY, "CANARYKEY", "CANARYBADKEY", CANARY_DB_PASSWORD]
# Canary numbers: magic suffixes give known outcomes (0100 completed, 0500 failed, 0486 busy).
DIALLED = ["+19705550100", "+19705550500", "+19705550486", "+19705551234", "+19705552345"]
REJECTED = ["19705554567", "+1970555456Z", "19705557890"]  # no '+'; a letter; no '+' typed
SUPPRESSED = ["+19705555678"]
ALL_NUMBERS = DIALLED + SUPPRESSED + ["+19705554567", "+19705556789"]
# Prefect's own "Parameter validation failed ... Parameters: {...}" (prefect/flows.py) prints the
# parameters a run was given, like the parameters themselves; it stays in the local process log
# (it is not shipped to the API: the run's stored logs are scanned above without exception).
PREFECT_OWN_LOGGERS = {"prefect.flows"}
WINDOW = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])


def number_markers() -> list[str]:
    """Each canary in E.164 and as bare digits (how a leak usually looks after formatting)."""
    markers = set()
    for number in ALL_NUMBERS + REJECTED:
        digits = "".join(ch for ch in number if ch.isdigit())
        markers |= {number, digits} if len(digits) >= 10 else {number}
    return sorted(markers)


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[EmbeddedSandbox]:
    """A sandbox that accepts only the canary key (any other key is a 401)."""
    with running_sandbox(
        seed=3, speed=200, api_keys=[CANARY_KEY], rate_limit_per_s=0, concurrency_cap=0
    ) as sb:
        yield sb


@flow(name="canary-tasks")
async def tasks_flow(block: str, connection: str, phone_number: str) -> int:
    """Every task of casey_flows.tasks once, as a user's pipeline would compose them."""
    call = await create_call(block, connection, phone_number, name="Canary Tasks")
    ended = await wait_for_call(block, connection, call, policy=WaitPolicy(timeout_seconds=30))
    await wait_for_calls(block, connection, [ended], policy=WaitPolicy(timeout_seconds=30))
    await get_call(block, connection, call.id)
    return len(await list_calls(block, connection, max_calls=50))


def run_every_flow(sandbox: EmbeddedSandbox, tmp_path: Path) -> list[State]:
    from prefect.blocks.system import Secret

    Secret(value=f"postgresql://casey:{CANARY_DB_PASSWORD}@127.0.0.1:9/warehouse").save(
        "canary-dead-warehouse", overwrite=True
    )
    block = save_block("casey-canary", CANARY_KEY, sandbox.base_url)
    bad_block = save_block("casey-canary-bad", CANARY_BAD_KEY, sandbox.base_url)
    connection = sandbox.call_out_connection
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "phone_number,name,timezone\n"
        + "".join(f"{p},Canary {i},America/Denver\n" for i, p in enumerate(DIALLED[2:]))
        + f"{REJECTED[0]},Rejected No Plus,\n{REJECTED[1]},Rejected Letter,\n"
        + f"{SUPPRESSED[0]},Suppressed,\n"
        + "+19705556789,Bad Zone,Mars/Base\n",
        encoding="utf-8",
    )

    async def run_all() -> list[State]:
        states = [
            await place_call(
                phone_number=DIALLED[0],
                connection_code=connection,
                credentials_block=block,
                name="Canary Completed",
                context={"note": "canary"},
                timeout_seconds=30,
                return_state=True,
            ),
            await place_call(  # ends "failed": a failed run with an exception message
                phone_number=DIALLED[1],
                connection_code=connection,
                credentials_block=block,
                timeout_seconds=30,
                return_state=True,
            ),
            await place_call(  # a 401: the exception must carry neither key
                phone_number=DIALLED[3],
                connection_code=connection,
                credentials_block=bad_block,
                return_state=True,
            ),
            await place_call(  # fails parameter validation: the message must not echo the input
                phone_number=REJECTED[2],
                connection_code=connection,
                credentials_block=block,
                return_state=True,
            ),
            await call_campaign(
                connection_code=connection,
                contacts_file=str(contacts),
                contacts=[{"phone_number": "+1 970 555 1234", "name": "Canary Duplicate"}],
                credentials_block=block,
                campaign_id="canary",
                calling_window=WINDOW,
                suppression={"numbers": [SUPPRESSED[0]]},
                limits={"poll_interval_seconds": 0.2},
                exports={"csv_path": str(tmp_path / "out.csv")},
                return_state=True,
            ),
            await call_campaign(
                connection_code=connection,
                contacts_file=str(contacts),
                credentials_block=block,
                campaign_id="canary-dry",
                calling_window=WINDOW,
                dry_run=True,
                return_state=True,
            ),
            await call_campaign(  # 401 inside the campaign's task
                connection_code=connection,
                contacts=[{"phone_number": DIALLED[4]}],
                credentials_block=bad_block,
                campaign_id="canary-bad-key",
                calling_window=WINDOW,
                return_state=True,
            ),
            await call_report(
                connection_code=connection, credentials_block=block, return_state=True
            ),
            await campaign_status(  # the canary campaign read back, with its contact list
                campaign_id="canary",
                connection_code=connection,
                contacts_file=str(contacts),
                credentials_block=block,
                export_csv_path=str(tmp_path / "status.csv"),
                return_state=True,
            ),
            await tasks_flow(block, connection, DIALLED[4], return_state=True),
            await sync_calls(  # loads full numbers into the warehouse: none may reach Prefect
                [connection], credentials_block=block, list_lag_seconds=0, return_state=True
            ),
            await sync_calls(  # the warehouse does not answer: its password must not show
                [connection],
                credentials_block=block,
                destination="postgres",
                destination_credentials_block="canary-dead-warehouse",
                return_state=True,
            ),
        ]
        return states

    sandbox.admin.set_faults(next_ambiguous_drop=1, next_ambiguous_5xx=1)  # warnings get logged
    try:
        return asyncio.run(run_all())
    finally:
        sandbox.admin.set_faults()


async def read_everything(since: datetime) -> dict[str, list[str]]:
    """Every record Prefect stored since ``since``, as JSON text, by kind."""
    found: dict[str, list[str]] = {k: [] for k in ("flow_runs", "params", "task_runs", "logs")}
    found |= {"artifacts": [], "events": []}
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)),
            limit=200,
        )
        assert 8 <= len(runs) < 200
        for run in runs:
            found["params"].append(json.dumps(run.parameters, default=str))
            found["flow_runs"].append(run.model_dump_json(exclude={"parameters"}))
            for state in await client.read_flow_run_states(run.id):
                found["flow_runs"].append(state.model_dump_json())
        run_ids = [r.id for r in runs]
        mine = FlowRunFilter(id=FlowRunFilterId(any_=run_ids))
        task_runs = await client.read_task_runs(flow_run_filter=mine, limit=200)
        assert 0 < len(task_runs) < 200
        found["task_runs"] = [task_run.model_dump_json() for task_run in task_runs]
        offset = 0
        while True:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)), limit=200, offset=offset
            )
            found["logs"] += [log.model_dump_json() for log in logs]
            if len(logs) < 200:
                break
            offset += len(logs)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=run_ids)),
            limit=200,
        )
        assert 0 < len(artifacts) < 200
        found["artifacts"] = [artifact.model_dump_json() for artifact in artifacts]
        body: dict[str, Any] = {
            "filter": {"occurred": {"since": since.isoformat()}, "order": "ASC"},
            "limit": 50,
        }
        response = await client._client.post("/events/filter", json=body)
        response.raise_for_status()
        page = response.json()
        while True:
            found["events"] += [json.dumps(e) for e in page["events"]]
            if not page.get("next_page"):
                break
            response = await client._client.get(page["next_page"])
            response.raise_for_status()
            page = response.json()
    assert runs and found["logs"] and found["artifacts"], "nothing was read back"
    return found


def hits(texts: list[str], markers: list[str]) -> list[str]:
    return [
        f"{m!r} in {t[max(0, t.find(m) - 120) : t.find(m) + 60]!r}"
        for t in texts
        for m in markers
        if m in t
    ]


def test_no_key_and_no_full_number_anywhere_prefect_stored(
    canary_sandbox: EmbeddedSandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEY_FLOWS_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    caplog.set_level(logging.DEBUG)
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    states = run_every_flow(canary_sandbox, tmp_path)

    kinds = [s.type.value for s in states]
    assert kinds == [
        "COMPLETED",
        "FAILED",
        "FAILED",
        "FAILED",
        "COMPLETED",
        "COMPLETED",
        "FAILED",
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
        "FAILED",
    ], [(s.type.value, s.message) for s in states]
    assert canary_sandbox.admin.stats()["creates_total"] >= 5, "the flows must really dial"
    exceptions = []
    for state in states:
        if state.is_failed():
            with pytest.raises(BaseException) as raised:
                state.result()
            exceptions += [str(raised.value), repr(raised.value)]

    time.sleep(2.0)  # logs ship in batches, events through the server's pipeline
    stored = asyncio.run(read_everything(since))
    assert any("casey.call." in e for e in stored["events"]), "no call events were read back"
    stored["exceptions"] = exceptions
    stored["local log records"] = [
        f"{r.name}: {r.getMessage()}" for r in caplog.records if r.name not in PREFECT_OWN_LOGGERS
    ]

    # The scanner works: place_call's parameters hold the number as typed (and nothing else does).
    assert hits(stored["params"], number_markers()), "the scan must see what Prefect stored"
    for kind, texts in stored.items():
        assert hits(texts, KEY_MARKERS) == [], kind
        if kind != "params":
            assert hits(texts, number_markers()) == [], kind
