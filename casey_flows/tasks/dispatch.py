"""Never dial twice: deterministic dispatch keys, and the API itself as the ledger.

The Casey API takes no idempotency key, but it echoes a call's ``context`` on list and get. So
every create carries a key in ``context["dispatch_key"]`` (and as an ``Idempotency-Key`` header,
harmless if ignored). After anything that may have dispatched already (an ambiguous failure, a
retry, a re-run) we list the connection's recent calls and adopt the ones carrying our keys.
Assumption, written in the README: the API echoes top-level context keys unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from casey_flows.client import AmbiguousDispatchError, AsyncCaseyClient, Call, CallRequest
from casey_flows.client.recent import recent_call_pages
from casey_flows.exceptions import LedgerScanIncomplete

CONTEXT_KEY = "dispatch_key"
# Clocks differ between us and the API; scan this much further back than we think we must.
CLOCK_SKEW_MARGIN = timedelta(minutes=10)


def make_dispatch_key(scope: str, phone_number: str, attempt: int = 1) -> str:
    """``scope:digest:attempt``, stable for the same scope, number and attempt.

    The number is hashed: keys travel in logs, events and the call's context.
    """
    digest = hashlib.sha256(phone_number.encode()).hexdigest()[:16]
    return f"{scope}:{digest}:{attempt}"


def dispatch_key_of(call: Call) -> str | None:
    """The key a call was created with, if casey-flows created it."""
    context = call.context
    if isinstance(context, dict):
        key = context.get(CONTEXT_KEY)
        return key if isinstance(key, str) else None
    return None


async def find_dispatched(
    client: AsyncCaseyClient,
    connection_code: str,
    keys: Collection[str],
    *,
    since: datetime | None = None,
    margin: timedelta = CLOCK_SKEW_MARGIN,
    max_calls: int = 50_000,
) -> dict[str, Call]:
    """Calls of the connection that carry one of ``keys``, by key.

    Pages newest first and stops when every key is found, at the end of the list, or after a
    whole page older than ``since`` minus ``margin`` (clock skew). Needing more than
    ``max_calls`` raises LedgerScanIncomplete rather than guess.
    """
    wanted = set(keys)
    found: dict[str, Call] = {}
    horizon = since - margin if since is not None else None
    scanned = 0
    async for page in recent_call_pages(client, connection_code, cutoff=horizon):
        if scanned >= max_calls:
            raise LedgerScanIncomplete(
                f"scanned {scanned} calls of {connection_code!r} without reaching "
                f"{'the start of this run' if horizon else 'the end of the list'}; "
                "not dialling to avoid calling anyone twice"
            )
        scanned += len(page)
        for call in page:
            key = dispatch_key_of(call)
            if key in wanted and key not in found:
                found[key] = call
        if not wanted - found.keys():
            break
    return found


async def dispatch_once(
    client: AsyncCaseyClient,
    connection_code: str,
    request: CallRequest,
    key: str,
    *,
    check_ledger_first: bool,
    since: datetime | None = None,
    reconcile_delay: float = 0.5,
    max_ambiguous: int = 3,
) -> tuple[Call, bool]:
    """Create the call for ``key`` unless it exists; returns (call, adopted).

    ``check_ledger_first`` is for anything that may have run before (a retry, a re-run). After
    an ambiguous failure the ledger is read twice (the list may lag the create) before the same
    request is sent again; ``max_ambiguous`` such failures in a row end in the last error.
    """
    if check_ledger_first:
        found = await find_dispatched(client, connection_code, [key], since=since)
        if key in found:
            return found[key], True
    last_error: AmbiguousDispatchError | None = None
    for _ in range(max_ambiguous):
        try:
            return await client.create_call_from(connection_code, request, key), False
        except AmbiguousDispatchError as exc:
            last_error = exc
            for delay in (0.0, reconcile_delay):
                await asyncio.sleep(delay)
                found = await find_dispatched(client, connection_code, [key], since=exc.sent_at)
                if key in found:
                    return found[key], True
    assert last_error is not None
    raise last_error


def with_dispatch_key(context: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """The call's context with our key added (the caller's own keys are kept)."""
    return {**(context or {}), CONTEXT_KEY: key}
