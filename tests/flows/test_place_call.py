"""place_call and its tasks against the sandbox, through a real Prefect server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.events.filters import EventFilter, EventNameFilter

from casey_flows.blocks import CaseyCredentials
from casey_flows.client import AsyncCaseyClient, Call
from casey_flows.core.waiting import WaitPolicy
from casey_flows.flows.place_call import place_call
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.tasks.calls import create_call, wait_for_call

pytestmark = pytest.mark.usefixtures("prefect_server")


def number(suffix: str, prefix: str = "+1415555") -> str:
    return prefix + suffix


def dials(sandbox: EmbeddedSandbox) -> dict[str, int]:
    return sandbox.admin.stats()["calls_by_phone"]


def place(sandbox: EmbeddedSandbox, credentials_block: str, phone: str, **params: Any) -> State:
    """Run place_call to the end and return its final state."""
    return asyncio.run(
        place_call(
            phone_number=phone,
            connection_code=sandbox.call_out_connection,
            credentials_block=credentials_block,
            return_state=True,
            **params,
        )
    )


@pytest.mark.parametrize(
    ("suffix", "outcome", "status", "ended_reason"),
    [
        ("0100", "completed", "completed", "customer_ended_call"),
        ("0486", "busy", "busy", "busy"),
        ("0408", "no answer", "no_answer", "no_answer"),
        ("0555", "voicemail", "completed", "voicemail"),
    ],
)
def test_each_outcome_is_the_final_state(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    suffix: str,
    outcome: str,
    status: str,
    ended_reason: str,
) -> None:
    phone = number(suffix)
    state = place(clean_sandbox, credentials_block, phone)
    assert state.is_completed(), state.message
    assert state.message == outcome
    call = state.result()
    assert (call.status, call.ended_reason) == (status, ended_reason)
    assert call.conversation_id or status in {"busy", "no_answer"}
    assert dials(clean_sandbox) == {phone: 1}


def test_failed_outcome_fails_the_run(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = place(clean_sandbox, credentials_block, number("0500"))
    assert state.is_failed()
    assert "ended: failed" in state.message


def test_fail_on_is_configurable(clean_sandbox: EmbeddedSandbox, credentials_block: str) -> None:
    state = place(clean_sandbox, credentials_block, number("0408"), fail_on=["No-Answer", "busy"])
    assert state.is_failed()
    assert "no answer" in state.message


def test_without_wait_returns_the_dispatched_call(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = place(clean_sandbox, credentials_block, number("0100"), wait=False)
    assert state.is_completed() and state.message == "dispatched"
    assert state.result().status in {"queued", "ringing"}


def test_timeout_stops_waiting_without_cancelling(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    phone = number("0999")
    state = place(clean_sandbox, credentials_block, phone, timeout_seconds=1.0)
    assert state.is_failed()
    assert "stopped waiting" in state.message and "not cancelled" in state.message
    stats = clean_sandbox.admin.stats()
    assert stats["calls_by_phone"] == {phone: 1}
    assert (
        stats["calls_by_status"].get("in_progress", 0) + stats["calls_by_status"].get("ringing", 0)
        == 1
    )


@pytest.mark.timeout(60)
def test_wait_for_call_fails_fast_naming_a_call_the_api_lost(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    gone = Call(id="call_lost_in_a_crash", status="in_progress")
    quick = WaitPolicy(
        min_poll_seconds=0.1, max_poll_seconds=0.2, timeout_seconds=600, lost_after_seconds=1.0
    )

    @flow
    async def wait_for_the_lost_call() -> Call:
        return await wait_for_call(
            credentials_block, clean_sandbox.call_out_connection, gone, policy=quick
        )

    state = asyncio.run(wait_for_the_lost_call(return_state=True))
    assert state.is_failed()
    assert "call_lost_in_a_crash is no longer found" in state.message
    assert "not placed again" in state.message
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_flow_retry_adopts_instead_of_dialling_again(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    phone = number("0999")
    state = asyncio.run(
        place_call.with_options(retries=2, retry_delay_seconds=0)(
            phone_number=phone,
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            timeout_seconds=0.5,
            return_state=True,
        )
    )
    assert state.is_failed()  # every attempt stops waiting on the long call
    assert dials(clean_sandbox) == {phone: 1}


def test_task_retry_after_crash_adopts(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    phone = number("0100")
    runs: list[str] = []

    @flow(retries=1, retry_delay_seconds=0)
    async def crashes_after_dispatch() -> str:
        call = await create_call(credentials_block, clean_sandbox.call_out_connection, phone)
        runs.append(call.id)
        if len(runs) == 1:
            raise RuntimeError("worker lost after the call was placed")
        return call.id

    final_id = asyncio.run(crashes_after_dispatch())
    assert runs == [final_id, final_id]
    assert dials(clean_sandbox) == {phone: 1}


@pytest.mark.parametrize("fault", ["next_ambiguous_5xx", "next_ambiguous_drop"])
def test_ambiguous_fault_never_dials_twice(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, fault: str
) -> None:
    phone = number("0100")
    clean_sandbox.admin.set_faults(**{fault: 1})
    state = place(clean_sandbox, credentials_block, phone)
    assert state.is_completed(), state.message
    stats = clean_sandbox.admin.stats()
    assert stats["calls_by_phone"] == {phone: 1}
    assert stats["creates_total"] == 1


def test_missing_block_names_the_fix(clean_sandbox: EmbeddedSandbox, prefect_server: None) -> None:
    state = place(clean_sandbox, "no-such-block", number("0100"))
    assert state.is_failed()
    assert "casey-flows credentials save --name no-such-block" in state.message
    assert dials(clean_sandbox) == {}


def test_block_round_trip(sandbox: EmbeddedSandbox, credentials_block: str) -> None:
    async def scenario() -> list[str]:
        block = await CaseyCredentials.aload(credentials_block)
        assert block.api_key.get_secret_value() == sandbox.api_key
        assert sandbox.api_key not in repr(block)
        client = block.get_client()
        assert isinstance(client, AsyncCaseyClient)
        async with client:
            return [c.connection_code for c in await client.list_connections()]

    assert sandbox.call_out_connection in asyncio.run(scenario())
    with CaseyCredentials.load(credentials_block).get_sync_client() as sync_client:
        assert sync_client.get_connection(sandbox.call_out_connection).is_call_out


def test_nothing_stored_shows_the_key_or_a_full_number(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    phone = number("0486", prefix="+1202555")
    state = place(clean_sandbox, credentials_block, phone)
    assert state.is_completed()
    flow_run_id = state.state_details.flow_run_id

    async def stored_text() -> str:
        from prefect.client.schemas.filters import (
            ArtifactFilter,
            ArtifactFilterFlowRunId,
            FlowRunFilter,
            FlowRunFilterId,
            LogFilter,
            LogFilterFlowRunId,
        )

        await asyncio.sleep(1.5)  # logs and events are shipped in batches
        async with get_client() as client:
            flow_run = await client.read_flow_run(flow_run_id)
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )
            events = await client.read_events(
                EventFilter(event=EventNameFilter(prefix=["casey.call."])), limit=50
            )
        parts = [flow_run.name, str(flow_run.state.message)]
        parts += [t.name + str(t.state.message if t.state else "") for t in task_runs]
        parts += [log.message for log in logs]
        parts += [str(a.data) + str(a.description) for a in artifacts]
        parts += [e.model_dump_json() for e in events.events]
        assert any(log.message.startswith("dispatched call") for log in logs)
        assert artifacts and events.events
        assert any(e.event == "casey.call.busy" for e in events.events)
        return "\n".join(parts)

    text = asyncio.run(stored_text())
    assert clean_sandbox.api_key not in text
    assert phone not in text and phone[1:] not in text
    assert "+1•••••0486" in text
