"""Never dial twice: deterministic dispatch keys, and the API itself as the ledger.

The Casey API takes no idempotency key, but it echoes a call's ``context`` on list and get. So
every create carries a key in ``context["dispatch_key"]`` (and as an ``Idempotency-Key`` header,
harmless if ignored). After anything that may have dispatched already (an ambiguous failure, a
retry, a re-run) we list the connection's recent calls and adopt the ones carrying our keys.
Assumption, written in docs/assumptions.md: the API echoes top-level context keys unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from casey_flows.client import AmbiguousDispatchError, AsyncCaseyClient, Call, CallRequest
from casey_flows.client.recent import recent_call_pages
from casey_flows.exceptions import CreateUnconfirmed, LedgerScanIncomplete

logger = logging.getLogger(__name__)

CONTEXT_KEY = "dispatch_key"
# Campaigns also write their id, so a warehouse joins calls to campaigns without parsing keys.
CAMPAIGN_CONTEXT_KEY = "campaign_id"
# How long an ambiguous create's key may be missing from the call list before it is dialled
# again: lists that trail creates by up to a minute, and a margin. What it costs: a create that
# truly never arrived is re-dialled this much later.
DEFAULT_REDIAL_AFTER_SECONDS = 90.0
REDIAL_MIN_READS = 3
REDIAL_AFTER_HELP = (
    "After a create that may or may not have reached Casey (timeout, dropped connection, 5xx), "
    "how long its key may be missing from the call list (over 3 reads or more) before it is "
    "taken as never arrived: the list may trail creates."
)
REDIAL_HELP = (
    "Then dial it again (on), or leave it and report it 'unconfirmed': it may have rung (off)."
)
MIN_READ_INTERVAL_SECONDS = 0.25
MAX_READ_INTERVAL_SECONDS = 15.0
# Clocks differ between us and the API; scan this much further back than we think we must.
CLOCK_SKEW_MARGIN = timedelta(minutes=10)


def make_dispatch_key(scope: str, phone_number: str, attempt: int = 1) -> str:
    """``scope:digest:attempt``, stable for the same scope, number and attempt.

    The number is hashed: keys travel in logs, events and the call's context.
    """
    digest = hashlib.sha256(phone_number.encode()).hexdigest()[:16]
    return f"{scope}:{digest}:{attempt}"


class DispatchKey(NamedTuple):
    """The parts of a dispatch key, as :func:`make_dispatch_key` joined them."""

    campaign_id: str
    digest: str
    attempt: str


def parse_dispatch_key(key: str | None) -> DispatchKey | None:
    """``campaign:digest:attempt`` split from the right (a campaign id may hold ``:``); None
    for anything else, an empty campaign part included."""
    parts = key.rsplit(":", 2) if key else []
    return DispatchKey(*parts) if len(parts) == 3 and parts[0] else None


def campaign_of_key(key: str | None) -> str | None:
    """The campaign a dispatch key belongs to (for calls placed before campaigns wrote their id
    into the context)."""
    parsed = parse_dispatch_key(key)
    return parsed.campaign_id if parsed else None


def dispatch_key_of(call: Call) -> str | None:
    """The key a call was created with, if casey-flows created it."""
    context = call.context
    if isinstance(context, dict):
        key = context.get(CONTEXT_KEY)
        return key if isinstance(key, str) else None
    return None


def campaign_id_of(call: Call) -> str | None:
    """The campaign that placed the call: its context says so, or, for calls placed before
    campaigns wrote their id, its dispatch key does."""
    context = call.context if isinstance(call.context, dict) else {}
    campaign = context.get(CAMPAIGN_CONTEXT_KEY)
    return campaign if isinstance(campaign, str) else campaign_of_key(dispatch_key_of(call))


@dataclass(frozen=True)
class RedialRule:
    """When an ambiguous create whose key the ledger does not show is taken as never arrived.

    The list may trail creates (replicas, search indexes; Casey's docs promise nothing), so a
    missing key proves nothing at first. Only once it has been absent for ``after_seconds``
    *and* over ``min_reads`` reads (the shape of the rule for lost calls) is it dialled again,
    or, with ``redial=False``, reported ``unconfirmed`` (it may have rung).
    """

    after_seconds: float = DEFAULT_REDIAL_AFTER_SECONDS
    redial: bool = True
    min_reads: int = REDIAL_MIN_READS

    def settled(self, absent_since: float, reads: int, now: float | None = None) -> bool:
        """True once a key absent since ``absent_since`` (monotonic) over ``reads`` reads is
        surely not coming."""
        elapsed = (time.monotonic() if now is None else now) - absent_since
        return reads >= self.min_reads and elapsed >= self.after_seconds

    def read_interval(self, reads: int) -> float:
        """Wait before the next ledger read while one create waits: short at first (a list a
        second behind is adopted in about a second), doubling, at most the spacing that fits
        ``min_reads`` into ``after_seconds``."""
        spread = self.after_seconds / max(1, self.min_reads - 1)
        ceiling = min(MAX_READ_INTERVAL_SECONDS, max(MIN_READ_INTERVAL_SECONDS, spread))
        return min(ceiling, MIN_READ_INTERVAL_SECONDS * 2.0 ** max(0, reads - 1))


async def find_dispatched(
    client: AsyncCaseyClient,
    connection_code: str,
    keys: Collection[str],
    *,
    since: datetime | None = None,
    margin: timedelta = CLOCK_SKEW_MARGIN,
    max_calls: int = 50_000,
) -> dict[str, list[Call]]:
    """Every call of the connection that carries one of ``keys``, by key, oldest first.

    More than one call for a key means someone was dialled twice: callers report it (see
    :func:`log_duplicates`). Pages newest first and stops at the end of the list or after a
    whole page older than ``since`` minus ``margin`` (clock skew); it reads to that horizon
    even when every key was found, since a second call for a key may be older, however many
    calls that is (a 100,000-call campaign re-runs and resumes). Without ``since`` it stops at
    the page that found the last key, and needing more than ``max_calls`` raises
    LedgerScanIncomplete rather than guess.
    """
    wanted = set(keys)
    found: dict[str, list[Call]] = {}
    horizon = since - margin if since is not None else None
    scanned = 0
    async for page in recent_call_pages(client, connection_code, cutoff=horizon):
        if horizon is None and scanned >= max_calls:
            raise LedgerScanIncomplete(
                f"scanned {scanned} calls of {connection_code!r} without reaching the end of "
                "the list or finding every key; not dialling to avoid calling anyone twice"
            )
        scanned += len(page)
        for call in page:
            key = dispatch_key_of(call)
            if key in wanted:
                calls = found.setdefault(key, [])
                # Offset pages of a list that grows at the head repeat a call now and then.
                if all(c.id != call.id for c in calls):
                    calls.insert(0, call)  # the list is newest first
        if horizon is None and not wanted - found.keys():
            break  # no horizon to read to: the page that found the last key is enough
    return found


class LedgerCall(NamedTuple):
    """A call as the campaign's ledger index keeps it: what adopting it takes, no more (a
    ``Call`` with its context and number is ~10x the size, and a re-run may hold 100,000)."""

    call_id: str
    status: str | None
    ended_reason: str | None
    created_at: str | None

    @classmethod
    def of(cls, call: Call) -> LedgerCall:
        return cls(call.id, call.status, call.ended_reason, call.created_at_raw)

    def as_call(self) -> Call:
        return Call(
            id=self.call_id,
            status=self.status,
            ended_reason=self.ended_reason,
            created_at=self.created_at,
        )


async def index_campaign_calls(
    client: AsyncCaseyClient,
    connection_code: str,
    campaign_id: str,
    *,
    since: datetime,
    margin: timedelta = CLOCK_SKEW_MARGIN,
) -> dict[str, list[LedgerCall]]:
    """Every call of the connection whose dispatch key belongs to ``campaign_id``, by key,
    oldest first, back to ``since`` minus ``margin``: read once before a campaign dials, so each
    contact's earlier calls are looked up as it comes, whatever the number of contacts."""
    found: dict[str, list[LedgerCall]] = {}
    async for page in recent_call_pages(client, connection_code, cutoff=since - margin):
        for call in page:
            key = dispatch_key_of(call)
            if key is not None and campaign_of_key(key) == campaign_id:
                calls = found.setdefault(key, [])
                # Offset pages of a list that grows at the head repeat a call now and then.
                if all(c.call_id != call.id for c in calls):
                    calls.insert(0, LedgerCall.of(call))  # the list is newest first
    return found


def log_duplicates(key: str, calls: list[Call]) -> None:
    """Log loudly when one key shows more than one call (someone was dialled twice)."""
    if len(calls) > 1:
        logger.error(
            "dispatch key %s shows %d calls (%s): this person was dialled more than once",
            key,
            len(calls),
            ", ".join(c.id for c in calls),
        )


class Dispatched(NamedTuple):
    """What :func:`dispatch_once` did: the call, whether it was found rather than created, and
    any further calls the ledger shows for the same key (someone was dialled twice)."""

    call: Call
    adopted: bool
    duplicates: list[Call]


async def dispatch_once(
    client: AsyncCaseyClient,
    connection_code: str,
    request: CallRequest,
    key: str,
    *,
    check_ledger_first: bool,
    since: datetime | None = None,
    redial: RedialRule | None = None,
    max_ambiguous: int = 3,
) -> Dispatched:
    """Create the call for ``key`` unless it exists.

    ``check_ledger_first`` is for anything that may have run seconds before (a retry): a key
    the list does not show yet proves nothing there either, so the ledger is read until the
    key shows up or ``redial`` settles, and only then is the call created. After an ambiguous
    failure the same rule decides: adopt, send the same request again, or, if re-dialling is
    off, raise CreateUnconfirmed. ``max_ambiguous`` such failures in a row end in the last
    error.
    """
    rule = redial or RedialRule()
    if check_ledger_first:
        found = await _await_ledger(client, connection_code, key, since, rule)
        if found:
            return Dispatched(found[0], True, found[1:])
    last_error: AmbiguousDispatchError | None = None
    for attempt in range(1, max_ambiguous + 1):
        try:
            return Dispatched(
                await client.create_call_from(connection_code, request, key), False, []
            )
        except AmbiguousDispatchError as exc:
            last_error = exc
        found = await _await_ledger(client, connection_code, key, last_error.sent_at, rule)
        if found:
            return Dispatched(found[0], True, found[1:])
        if not rule.redial:
            raise CreateUnconfirmed(
                f"the create for key {key} may have rung ({last_error}), and the call list did not "
                f"show it within {rule.after_seconds:g} s; not dialled again (re-dialling is off)"
            )
        if attempt < max_ambiguous:
            logger.warning(
                "key %s absent from the call list for %g s over %d reads: dialling again",
                key,
                rule.after_seconds,
                rule.min_reads,
            )
    assert last_error is not None
    raise last_error


async def _await_ledger(
    client: AsyncCaseyClient,
    connection_code: str,
    key: str,
    since: datetime | None,
    rule: RedialRule,
) -> list[Call]:
    """Read the ledger until ``key`` shows up (every call for it, oldest first) or the rule
    settles (empty). Time counts from before each read: a slow scan must not stretch the wait."""
    absent_since, reads = time.monotonic(), 0
    while True:
        started = time.monotonic()
        found = await find_dispatched(client, connection_code, [key], since=since)
        reads += 1
        if key in found:
            log_duplicates(key, found[key])
            return found[key]
        if rule.settled(absent_since, reads, now=started):
            return []
        await asyncio.sleep(rule.read_interval(reads))


def with_dispatch_key(
    context: dict[str, Any] | None, key: str, campaign_id: str | None = None
) -> dict[str, Any]:
    """The call's context with our key (and campaign id) added; the caller's keys are kept."""
    ours = {CONTEXT_KEY: key, **({CAMPAIGN_CONTEXT_KEY: campaign_id} if campaign_id else {})}
    return {**(context or {}), **ours}
