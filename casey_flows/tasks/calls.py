"""Prefect tasks around single calls: create, wait, get, list.

Async (an async task called from a sync flow would never run) and uncached (our own dispatch
keys decide what runs again, not input hashes). Task-run names carry masked numbers only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run

from casey_flows.blocks.credentials import CaseyCredentials, resolve_credentials
from casey_flows.campaign.outcomes import describe_outcome, outcome_label
from casey_flows.client import AsyncCaseyClient, AuthenticationError, Call, CallRequest, mask_phone
from casey_flows.core.dispatch import (
    DEFAULT_REDIAL_AFTER_SECONDS,
    RedialRule,
    dispatch_once,
    make_dispatch_key,
    with_dispatch_key,
)
from casey_flows.core.waiting import CallWatcher, WaitPolicy, WaitResult, lost_reason
from casey_flows.exceptions import CallLost, CallWaitTimeout
from casey_flows.tasks.events import emit_call_event

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
    redial_after_seconds: float = DEFAULT_REDIAL_AFTER_SECONDS,
    redial_unconfirmed: bool = True,
) -> Call:
    """Dispatch one call exactly once for its dispatch key.

    The key defaults to this flow run and the number, so a retry of the same flow run adopts the
    call it already placed instead of dialling again.

    Args:
        credentials: a ``CaseyCredentials`` block, or the name of a saved one.
        connection_code: a call_out connection.
        phone_number: E.164 (``+14155550100``); the task run's name shows it masked.
        name: who is called (up to 200 characters).
        participant_id: the participant's uuid, if Casey knows them.
        context: data for the agent; the dispatch key is added under ``dispatch_key``.
        schedule_plan: passed to Casey unchanged.
        dispatch_key: at most one call per key; default: this flow run and the number.
        campaign_id: names the campaign in the ``casey.call.dispatched`` event.
        reconcile: force (True) or skip (False) the ledger check that otherwise runs only when
            this flow or task run is a retry.
        redial_after_seconds: after an ambiguous create, how long its key may be missing from
            the call list (over 3 reads or more) before it is taken as never arrived.
        redial_unconfirmed: then dial again (True), or raise CreateUnconfirmed (False).

    Returns:
        The call as dispatched (or as found, when an earlier attempt had placed it).

    Example:
        ```python
        from prefect import flow
        from casey_flows import CaseyCredentials, create_call, wait_for_call

        @flow
        async def remind(phone_number: str) -> str:
            credentials = await CaseyCredentials.aload("casey")
            call = await create_call(credentials, "demo-outbound", phone_number, name="Ada")
            ended = await wait_for_call(credentials, "demo-outbound", call)
            return ended.status
        ```
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
        call, adopted, duplicates = await dispatch_once(
            client,
            connection_code,
            request,
            key,
            check_ledger_first=check_first,
            redial=RedialRule(after_seconds=redial_after_seconds, redial=redial_unconfirmed),
        )
    if adopted:
        logger.info("adopted call %s already dispatched for key %s", call.id, key)
    else:
        logger.info("dispatched call %s to %s", call.id, mask_phone(phone_number))
        emit_call_event(call, "dispatched", connection_code, campaign_id)
    for extra in duplicates:  # never silent: in the run's logs and as an event
        logger.error("call %s is a second call for key %s: dialled more than once", extra.id, key)
        emit_call_event(extra, "duplicate", connection_code, campaign_id)
    return call


def transition_logger(
    connection_code: str, campaign_id: str | None, policy: WaitPolicy
) -> Callable[[Call, str | None], None]:
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

    Polls with backoff; for many calls, list sweeps replace one GET per call. Each status change
    is logged once and an event ``casey.call.<status>`` is emitted when a call ends.

    Args:
        credentials: a ``CaseyCredentials`` block, or the name of a saved one.
        connection_code: the connection the calls were placed on.
        calls: the calls to wait for (as ``create_call`` returned them).
        policy: deadline and poll intervals (default ``WaitPolicy()``: 15 minutes).
        campaign_id: names the campaign in the events.

    Returns:
        A ``WaitResult``: ``ended`` calls, ``still_open`` ones at the deadline (stop waiting is
        not cancel) and ``lost`` ones (HTTP 404 poll after poll: they may have rung).

    Example:
        ```python
        calls = [await create_call(credentials, "demo-outbound", n) for n in numbers]
        result = await wait_for_calls(credentials, "demo-outbound", calls)
        print(len(result.ended), "ended,", len(result.still_open), "still open")
        ```
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
    """Wait for one call to end.

    Args:
        credentials: a ``CaseyCredentials`` block, or the name of a saved one.
        connection_code: the connection the call was placed on.
        call: the call, as ``create_call`` returned it.
        policy: deadline and poll intervals (default ``WaitPolicy()``: 15 minutes).
        campaign_id: names the campaign in the events.

    Returns:
        The call as it ended.

    Raises:
        CallWaitTimeout: not ended by the deadline (the message names its last status; the
            call is not cancelled).
        CallLost: the API stopped knowing the call; it may have rung, so never re-dial it.

    Example:
        ```python
        ended = await wait_for_call(credentials, "demo-outbound", call)
        print(ended.status, ended.ended_reason)
        ```
    """
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
            f"{outcome_label(describe_outcome(last))} (not cancelled)"
        )
    return result.ended[call.id]


@task(name="get-call", cache_policy=NO_CACHE)
async def get_call(credentials: Credentials, connection_code: str, call_id: str) -> Call:
    """One call by id.

    Args:
        credentials: a ``CaseyCredentials`` block, or the name of a saved one.
        connection_code: the connection the call was placed on.
        call_id: the call's id.

    Returns:
        The call as the API knows it now (``NotFoundError`` if it does not).

    Example:
        ```python
        call = await get_call("casey", "demo-outbound", "6f1c1d7e-...")
        ```
    """
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
    """The connection's calls, newest first, all pages up to ``max_calls``.

    Args:
        credentials: a ``CaseyCredentials`` block, or the name of a saved one.
        connection_code: the connection.
        status: only calls with this status (as the API spells it), if given.
        max_calls: stop after this many.

    Returns:
        The calls, as the API lists them.

    Example:
        ```python
        done = await list_calls("casey", "demo-outbound", status="completed", max_calls=500)
        ```
    """
    found: list[Call] = []
    async with casey_client(credentials) as client:
        async for call in client.iter_calls(connection_code, status=status):
            found.append(call)
            if len(found) >= max_calls:
                break
    return found
