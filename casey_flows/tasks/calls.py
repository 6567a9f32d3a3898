"""Prefect tasks around single calls: create, wait, get, list.

Async (an async task called from a sync flow would never run) and uncached (our own dispatch
keys decide what runs again, not input hashes). Task-run names carry masked numbers only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run

from casey_flows.blocks.credentials import CaseyCredentials, resolve_credentials
from casey_flows.client import AsyncCaseyClient, AuthenticationError, Call, CallRequest, mask_phone
from casey_flows.exceptions import CallLost, CallWaitTimeout
from casey_flows.tasks.dispatch import dispatch_once, make_dispatch_key, with_dispatch_key
from casey_flows.tasks.events import emit_call_event
from casey_flows.tasks.waiting import (
    CallWatcher,
    WaitPolicy,
    WaitResult,
    describe_outcome,
    lost_reason,
)

Credentials = CaseyCredentials | str


def _masked_task_name(verb: str) -> str:
    number = task_run.parameters.get("phone_number", "")
    return f"{verb} {mask_phone(number)}"


def _create_call_run_name() -> str:
    return _masked_task_name("create-call")


def _block_name(credentials: Credentials, resolved: CaseyCredentials) -> str:
    if isinstance(credentials, str):
        return credentials
    return getattr(resolved, "_block_document_name", None) or "(unsaved block)"


@asynccontextmanager
async def casey_client(
    credentials: Credentials, *, max_requests_per_second: float | None = None
) -> AsyncIterator[AsyncCaseyClient]:
    """A client from the block, whose 401s name the block (never the key).

    A rejected key is a configuration error: the person fixing it needs to know which block to
    re-save, and Casey's own message cannot tell them.
    """
    resolved = await resolve_credentials(credentials)
    try:
        async with resolved.get_client(max_requests_per_second=max_requests_per_second) as client:
            yield client
    except AuthenticationError as exc:
        name = _block_name(credentials, resolved)
        reason = exc.message.rstrip(".")
        raise AuthenticationError(
            f"Casey rejected the API key in credentials block {name!r}: {reason}. Save a "
            f"valid key with `casey-flows credentials save --name {name}`",
            status_code=exc.status_code,
            code=exc.code,
            request_id=exc.request_id,
        ) from None


def may_have_run_before() -> bool:
    """A flow or task retry may follow a dispatch whose result we never saw."""
    return flow_run.get_run_count() > 1 or task_run.get_run_count() > 1


@task(name="create-call", task_run_name=_create_call_run_name, cache_policy=NO_CACHE)
async def create_call(
    credentials: Credentials,
    connection_code: str,
    phone_number: str,
    *,
    name: str | None = None,
    participant_id: UUID | str | None = None,
    context: dict[str, Any] | None = None,
    schedule_plan: Any | None = None,
    dispatch_key: str | None = None,
    campaign_id: str | None = None,
    reconcile: bool | None = None,
) -> Call:
    """Dispatch one call exactly once for its dispatch key.

    The key defaults to this flow run and the number, so a retry of the same flow run adopts the
    call it already placed. ``reconcile`` forces (True) or skips (False) the ledger check that
    otherwise runs only when this flow or task run is a retry.
    """
    logger = get_run_logger()
    key = dispatch_key or make_dispatch_key(f"flow-run-{flow_run.get_id()}", phone_number)
    request = CallRequest.build(
        phone_number=phone_number,
        name=name,
        participant_id=participant_id,
        context=with_dispatch_key(context, key),
        schedule_plan=schedule_plan,
    )
    check_first = may_have_run_before() if reconcile is None else reconcile
    async with casey_client(credentials) as client:
        call, adopted = await dispatch_once(
            client, connection_code, request, key, check_ledger_first=check_first
        )
    if adopted:
        logger.info("adopted call %s already dispatched for key %s", call.id, key)
    else:
        logger.info("dispatched call %s to %s", call.id, mask_phone(phone_number))
        emit_call_event(call, "dispatched", connection_code, campaign_id)
    return call


def transition_logger(connection_code: str, campaign_id: str | None, policy: WaitPolicy):
    """An on_change callback: log each status change once, emit an event when a call ends."""
    logger = get_run_logger()

    def report(call: Call, previous: str | None) -> None:
        logger.info(
            "call %s (%s): %s -> %s",
            call.id,
            mask_phone(call.phone_number or ""),
            previous or "start",
            call.normalized_status,
        )
        if call.is_terminal(policy.terminal_statuses):
            emit_call_event(call, call.normalized_status or "unknown", connection_code, campaign_id)

    return report


@task(name="wait-for-calls", cache_policy=NO_CACHE)
async def wait_for_calls(
    credentials: Credentials,
    connection_code: str,
    calls: list[Call],
    *,
    policy: WaitPolicy | None = None,
    campaign_id: str | None = None,
) -> WaitResult:
    """Wait until every call ends or the policy's deadline passes; never raises on timeout.

    ``result.still_open`` names the calls that had not ended (stop waiting is not cancel),
    ``result.lost`` the ones the API answered 404 for, poll after poll.
    """
    policy = policy or WaitPolicy()
    async with casey_client(credentials) as client:
        watcher = CallWatcher(
            client, connection_code, policy, transition_logger(connection_code, campaign_id, policy)
        )
        return await watcher.wait(calls)


@task(name="wait-for-call", cache_policy=NO_CACHE)
async def wait_for_call(
    credentials: Credentials,
    connection_code: str,
    call: Call,
    *,
    policy: WaitPolicy | None = None,
    campaign_id: str | None = None,
) -> Call:
    """The call once it ended; CallWaitTimeout (naming its last status) if it did not in time,
    CallLost if the API stopped knowing it."""
    policy = policy or WaitPolicy()
    result = await wait_for_calls.fn(
        credentials, connection_code, [call], policy=policy, campaign_id=campaign_id
    )
    if result.lost:
        raise CallLost(
            f"{lost_reason(call.id, policy)}; it may have been dialled, so it is not placed again"
        )
    if result.still_open:
        last = result.still_open[call.id]
        raise CallWaitTimeout(
            f"stopped waiting for call {call.id} after {policy.timeout_seconds:g} s; it is still "
            f"{describe_outcome(last)} (not cancelled)"
        )
    return result.ended[call.id]


@task(name="get-call", cache_policy=NO_CACHE)
async def get_call(credentials: Credentials, connection_code: str, call_id: str) -> Call:
    """One call by id, for user pipelines."""
    async with casey_client(credentials) as client:
        return await client.get_call(connection_code, call_id)


@task(name="list-calls", cache_policy=NO_CACHE)
async def list_calls(
    credentials: Credentials,
    connection_code: str,
    *,
    status: str | None = None,
    max_calls: int = 1000,
) -> list[Call]:
    """Up to ``max_calls`` of the connection's calls (all pages), optionally one status."""
    found: list[Call] = []
    async with casey_client(credentials) as client:
        async for call in client.iter_calls(connection_code, status=status):
            found.append(call)
            if len(found) >= max_calls:
                break
    return found
