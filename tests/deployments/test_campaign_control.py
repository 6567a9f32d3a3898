"""Campaign control on a real Prefect server, with the `on-demand` deployment served from
prefect.yaml (its resume trigger included):

- cancel from the API (what the UI's Cancel does): dialling stops, the run ends Cancelled, and
  its outcome table and summary say who was called and who was not;
- kill -9 of the flow process: the trigger starts the campaign again, which waits for the dead
  run's lease to expire, adopts what was dialled and dials the rest: everyone exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.states import Cancelling

from casey_flows.blocks import CaseyCredentials
from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.client import CaseyClient
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.sandbox.testing import wait_for
from tests.deployments.stack import REPO_ROOT, PrefectStack, prefect_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DEPLOYMENT = "call-campaign/on-demand"
ALWAYS = {"start": "00:00:00", "end": "23:59:59", "days": [0, 1, 2, 3, 4, 5, 6]}


@pytest.fixture(scope="module")
def stack(
    sandbox: EmbeddedSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectStack]:
    # The server sweeps expired leases every 2 s (its default 15 s only lengthens the resume).
    sweep_often = {"PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2"}
    with prefect_stack(tmp_path_factory.mktemp("prefect"), server_env=sweep_often) as stack:
        served = stack.service("serve-on-demand")
        argv = [sys.executable, "-m", "deployments.serve", DEPLOYMENT]
        served.start(argv, 0, stack.env, cwd=REPO_ROOT)
        with stack.client_settings():
            credentials = CaseyCredentials(api_key=sandbox.api_key, base_url=sandbox.base_url)
            asyncio.run(credentials.asave(DEFAULT_BLOCK_NAME, overwrite=True))
            asyncio.run(stack.wait_for_deployment(DEPLOYMENT, served))
            yield stack


def contacts(count: int, first: int) -> list[dict[str, str]]:
    return [{"phone_number": f"+1312555{first + i:04d}"} for i in range(count)]


def start_dialling(
    sandbox: EmbeddedSandbox, campaign_id: str, people: list[dict[str, str]]
) -> FlowRun:
    """A clean sandbox, the campaign started through the deployment, six creates seen."""
    sandbox.clean()
    run = start(sandbox, campaign_id, people)
    wait_for(lambda: sandbox.admin.stats()["creates_total"] >= 6, timeout=60)
    return run


def start(sandbox: EmbeddedSandbox, campaign_id: str, people: list[dict[str, str]]) -> FlowRun:
    parameters: dict[str, Any] = {
        "connection_code": sandbox.call_out_connection,
        "contacts": people,
        "campaign_id": campaign_id,
        "calling_window": ALWAYS,
        "limits": {"max_concurrent_calls": 3, "poll_interval_seconds": 0.2},
        "exports": {"call_events": "none"},
    }
    return asyncio.run(arun_deployment(DEPLOYMENT, parameters=parameters, timeout=0))


def read_run(run_id: UUID) -> FlowRun:
    async def read() -> FlowRun:
        async with get_client() as client:
            return await client.read_flow_run(run_id)

    return asyncio.run(read())


def wait_state(stack: PrefectStack, run_id: UUID, names: set[str], timeout: float) -> FlowRun:
    deadline = time.monotonic() + timeout
    while (run := read_run(run_id)).state_name not in names:
        assert time.monotonic() < deadline, f"run is {run.state_name}:\n{stack.logs()}"
        time.sleep(0.5)
    return run


def calls_created(sandbox: EmbeddedSandbox) -> list[datetime]:
    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        return [c.created_at for c in client.iter_calls(sandbox.call_out_connection)]


def test_cancel_stops_dialling_and_reports_who_was_called(
    stack: PrefectStack, sandbox: EmbeddedSandbox
) -> None:
    run = start_dialling(sandbox, "cancel-me", contacts(60, first=1000))

    async def cancel() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run.id, Cancelling(), force=True)

    asyncio.run(cancel())
    wait_state(stack, run.id, {"Cancelled"}, timeout=45)
    time.sleep(1.0)

    stopped_at, artifacts = asyncio.run(_stop_logged_and_artifacts(run.id))
    created = calls_created(sandbox)
    assert 6 <= len(created) < 60, "the cancel must land mid-campaign"
    assert max(created) <= stopped_at, "a call was created after the cancel was seen"
    summary = next(a for a in artifacts if a.type == "markdown")
    table = next(a for a in artifacts if a.type == "table")
    assert "not dialled" in str(summary.data)
    rows = table.data if isinstance(table.data, list) else []
    if rows:  # every contact is in the table: dialled ones with their outcome, the rest not
        assert len(rows) == 60
        assert sum(1 for r in rows if r["outcome"] == "not dialled") == 60 - len(created)


async def _stop_logged_and_artifacts(run_id: UUID) -> tuple[datetime, list[Any]]:
    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
        )
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    stopping = [log.timestamp for log in logs if "no more dials" in log.message]
    assert stopping, "the engine never logged that it stopped"
    return min(stopping), artifacts


def test_a_killed_campaign_is_resumed_and_dials_everyone_exactly_once(
    stack: PrefectStack, sandbox: EmbeddedSandbox
) -> None:
    people = contacts(30, first=2000)
    run = start_dialling(sandbox, "resume-me", people)
    os.kill(_flow_process(run.id), signal.SIGKILL)
    wait_state(stack, run.id, {"Crashed"}, timeout=30)
    assert sandbox.admin.stats()["creates_total"] < 30, "the kill must land mid-campaign"

    resumed = _wait_resumed(stack, run, timeout=60)
    assert resumed.parameters["resume"]["resume_count"] == 1
    # It waits for the dead run's lease (60 s, then the server's sweep), then finishes.
    done = wait_state(stack, resumed.id, {"Completed", "Failed", "Crashed"}, timeout=200)
    assert done.state_name == "Completed", done.state.message if done.state else None
    stats = sandbox.admin.stats()
    assert sorted(stats["calls_by_phone"]) == sorted(p["phone_number"] for p in people)
    assert set(stats["calls_by_phone"].values()) == {1}


def _flow_process(run_id: UUID) -> int:
    """The pid of the process running ``run_id`` (the runner sets PREFECT__FLOW_RUN_ID)."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if marker in (entry / "environ").read_bytes().split(b"\0"):
                        return int(entry.name)
                except OSError:
                    continue
        time.sleep(0.2)
    raise AssertionError(f"no process runs flow run {run_id}")


def _resume_of(run: FlowRun) -> str | None:
    """The crashed run a run resumes, from the ``resume`` group the crash trigger sets."""
    return (run.parameters.get("resume") or {}).get("resume_of")


def _wait_resumed(stack: PrefectStack, crashed: FlowRun, timeout: float) -> FlowRun:
    async def find() -> list[FlowRun]:
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[crashed.deployment_id])
                )
            )

    deadline = time.monotonic() + timeout
    while True:
        runs = [r for r in asyncio.run(find()) if _resume_of(r) == str(crashed.id)]
        if runs:
            return runs[0]
        assert time.monotonic() < deadline, f"the crash trigger never resumed:\n{stack.logs()}"
        time.sleep(0.5)
