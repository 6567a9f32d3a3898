"""End to end: a real ``prefect server start``, process work pool and workers, the deployments
applied from ``deployments/prefect.yaml``, runs started through the API against the sandbox, and
the report flow's artifact (made by the after-campaign automation) read back through the API; the
same event starts warehouse-sync (a deployment with a schedule and a trigger) for the campaign's
connection.

SQLite always runs; the PostgreSQL variant runs when ``CASEY_FLOWS_TEST_PG_URL`` is set (CI's
``.ci/run`` installs PostgreSQL and always sets it).
"""

from __future__ import annotations

import asyncio
import functools
import operator
import os
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment

from casey_flows.flows.report import report_artifact_key
from casey_flows.sandbox.embedded import EmbeddedSandbox
from deployments.spec import load_project
from tests.deployments.fast_runs import campaign_parameters
from tests.deployments.stack import CASEY_FLOWS, PREFECT, PrefectStack, prefect_stack
from tests.flows.run_forms import undescribed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

POOL = "casey-process"
PG_URL = os.environ.get("CASEY_FLOWS_TEST_PG_URL")


def deploy_everything(stack: PrefectStack, sandbox: EmbeddedSandbox) -> None:
    """Pool, block and every deployment of prefect.yaml, through the CLIs a user would run."""
    stack.run(PREFECT, "work-pool", "create", POOL, "--type", "process", "--overwrite")
    stack.run(
        CASEY_FLOWS,
        "credentials",
        "save",
        "--name",
        "casey",
        extra_env={"CASEY_API_KEY": sandbox.api_key, "CASEY_BASE_URL": sandbox.base_url},
    )
    out = stack.run(
        PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"
    )
    assert "weekday-mornings" in out


async def wait_for_triggered_run(deployment: str, after: Any, timeout: float = 60) -> FlowRun:
    """A run an automation started on ``deployment`` (after-campaign, warehouse-sync), once it
    has finished."""
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=after)),
            )
            done = [r for r in runs if r.state and r.state.is_final()]
            if done:
                return done[0]
            await asyncio.sleep(1)
    raise AssertionError(f"the automation did not run {deployment} in time")


async def report_rows(flow_run_id: UUID) -> list[dict]:
    import json

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    tables = [a for a in artifacts if a.type == "table"]
    assert tables, "the report run published no table artifact"
    assert tables[0].key == report_artifact_key("demo-outbound")
    return json.loads(tables[0].data)


def test_sqlite_worker_runs_a_deployment_and_the_trigger_reports(
    clean_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    numbers = ["+12025550100", "+12025550486", "+12025550408"]
    with prefect_stack(tmp_path / "prefect") as stack:
        deploy_everything(stack, clean_sandbox)
        stack.start_worker("solo", POOL)

        async def scenario() -> tuple[FlowRun, list[Any]]:
            async with get_client() as client:
                deployments = await client.read_deployments()
            names = {f"{d.name}" for d in deployments}
            assert {s.name for s in load_project().deployments} <= names
            # The forms a person fills: every parameter, and every field of every section,
            # described in the schema the server stored for each deployment.
            forms = [(d.name, undescribed(d.parameter_openapi_schema)) for d in deployments]
            assert [(name, missing) for name, missing in forms if missing] == []
            started = time.time()
            from datetime import datetime, timezone

            since = datetime.fromtimestamp(started, timezone.utc)
            run = await arun_deployment(
                "call-campaign/on-demand",
                parameters=campaign_parameters(clean_sandbox, "e2e-sqlite", numbers),
                timeout=120,
                poll_interval=1,
                as_subflow=False,
            )
            report = await wait_for_triggered_run("after-campaign", since)
            sync = await wait_for_triggered_run("warehouse-sync", since)
            call_run = await arun_deployment(
                "place-call/by-hand",
                parameters={
                    "phone_number": "+13125550100",
                    "connection_code": clean_sandbox.call_out_connection,
                },
                timeout=120,
                poll_interval=1,
                as_subflow=False,
            )
            assert call_run.state.is_completed(), call_run.state.message
            assert call_run.state.message == "completed"
            return run, [report, await report_rows(report.id), sync]

        try:
            with stack.client_settings():
                run, (report, rows, sync) = asyncio.run(scenario())
        except BaseException:
            print(stack.logs())
            raise
    assert run.state.is_completed(), f"{run.state.name}: {run.state.message}\n{stack.logs()}"
    dialled = {n: 1 for n in [*numbers, "+13125550100"]}
    assert clean_sandbox.admin.stats()["calls_by_phone"] == dialled
    assert report.state.is_completed(), report.state.message
    assert report.parameters["connection_code"] == clean_sandbox.call_out_connection
    assert sorted(r["phone_number"] for r in rows) == ["+1•••••0100", "+1•••••0408", "+1•••••0486"]
    assert {r["status"] for r in rows} == {"completed", "busy", "no_answer"}
    # The sync the same event started: the campaign's connection, templated into a list item.
    assert sync.state.is_completed(), f"{sync.state.message}\n{stack.logs()}"
    assert sync.parameters["connection_codes"] == [clean_sandbox.call_out_connection]


@pytest.mark.skipif(not PG_URL, reason="CASEY_FLOWS_TEST_PG_URL not set (CI sets it)")
def test_postgres_two_workers_share_one_campaign(
    clean_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    parts = {
        "e2e-pg-part-1": ["+12025550100", "+12025550101", "+12025550555"],
        "e2e-pg-part-2": ["+12025550102", "+12025550103", "+12025550486"],
    }
    with prefect_stack(tmp_path / "prefect", database_url=PG_URL) as stack:
        deploy_everything(stack, clean_sandbox)
        workers = [stack.start_worker(name, POOL, limit=1) for name in ("alpha", "beta")]

        async def scenario() -> list[FlowRun]:
            return list(
                await asyncio.gather(
                    *(
                        arun_deployment(
                            "call-campaign/on-demand",
                            parameters=campaign_parameters(clean_sandbox, cid, numbers),
                            timeout=150,
                            poll_interval=1,
                            as_subflow=False,
                        )
                        for cid, numbers in parts.items()
                    )
                )
            )

        try:
            with stack.client_settings():
                runs = asyncio.run(scenario())
        except BaseException:
            print(stack.logs())
            raise
        logs = {w.name: w.log_file.read_text() for w in workers}
    for run in runs:
        assert run.state.is_completed(), f"{run.state.name}: {run.state.message}"
    # Each worker takes one run at a time (--limit 1), so both must have done work.
    picked = {name: [str(r.id) for r in runs if str(r.id) in text] for name, text in logs.items()}
    assert all(picked.values()), f"a worker did no work: {picked}"
    assert set(functools.reduce(operator.iadd, picked.values(), [])) == {str(r.id) for r in runs}
    every_number = [n for numbers in parts.values() for n in numbers]
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {n: 1 for n in every_number}
