"""Waiting for calls to end: cheap, patient, and honest about what is still open.

Wall-clock deadline (not summed sleeps); backoff with jitter between polls while nothing
changes; a transient poll error never fails the wait; each change of status is reported once.
For many calls one list sweep (100 calls a request) replaces a GET per call per poll; the choice
is made per poll from what the last sweep cost. A sweep starts below the calls too young to have
ended (learned from the calls seen end: ``casey_flows.core.call_ages``), and validates only the
calls whose JSON changed since the last one. "Stop waiting" is not "cancel": calls still open at
the deadline are returned as open.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from casey_flows.client import (
    DEFAULT_TERMINAL_STATUSES,
    AsyncCaseyClient,
    AuthenticationError,
    Call,
    CaseyError,
    NotFoundError,
    PermissionDeniedError,
)
from casey_flows.client._constants import LIST_LIMIT_MAX
from casey_flows.client.pages import CallPage
from casey_flows.client.recent import recent_lazy_pages
from casey_flows.client.status import normalize_statuses
from casey_flows.core.call_ages import CallAges

logger = logging.getLogger(__name__)

OnChange = Callable[[Call, str | None], Awaitable[None] | None]
# Polls that fetch one call each run this many requests at once.
GET_CONCURRENCY = 10
# A call too young to have ended (casey_flows.core.call_ages) goes unread by polls until this
# many min_poll_seconds before the age at which the youngest calls ended, and for at most
# MAX_SKIP_POLLS of them after its create.
SKIP_MARGIN_POLLS = 1.5
MAX_SKIP_POLLS = 8.0
# After a sweep below the young calls missed one it wanted, polls read from the top for this
# many polls, doubling each time it happens again, up to the maximum.
MIN_SKIP_PAUSE_POLLS = 16
MAX_SKIP_PAUSE_POLLS = 1024


class WaitPolicy(BaseModel):
    """How long and how often to poll. Defaults suit one call of a few minutes."""

    timeout_seconds: float = Field(default=900.0, gt=0, description="Stop waiting after this.")
    min_poll_seconds: float = Field(default=1.0, gt=0, description="First and fastest interval.")
    max_poll_seconds: float = Field(default=15.0, gt=0, description="Slowest interval.")
    backoff: float = Field(default=1.5, ge=1.0, description="Interval growth while idle.")
    jitter: float = Field(default=0.2, ge=0, le=1, description="± fraction of the interval.")
    lost_after_not_found: int = Field(
        default=3, ge=1, description="Polls answering 404 before a call counts as lost..."
    )
    lost_after_seconds: float = Field(
        default=10.0, ge=0, description="...over at least this long (reads may lag a create)."
    )
    terminal_statuses: frozenset[str] = Field(
        default=DEFAULT_TERMINAL_STATUSES,
        description="Statuses (any spelling) after which a call never changes.",
    )

    def next_interval(self, interval: float, changed: bool) -> float:
        """The wait before the next poll: the shortest after a change, else ``backoff`` times
        the last, up to the longest (every poller here: the watcher, the engine, the plan)."""
        if changed:
            return self.min_poll_seconds
        return max(self.min_poll_seconds, min(interval * self.backoff, self.max_poll_seconds))

    def model_post_init(self, _context: object) -> None:
        object.__setattr__(self, "terminal_statuses", normalize_statuses(self.terminal_statuses))


@dataclass
class NotFoundStreak:
    """404s for one call since it was last seen: a lost call, or a read lagging its create."""

    since: float = field(default_factory=time.monotonic)
    polls: int = 0


@dataclass
class WaitResult:
    """Final (or last seen) state of every call, split by whether it ended."""

    ended: dict[str, Call] = field(default_factory=dict)
    still_open: dict[str, Call] = field(default_factory=dict)
    # Calls the API stopped knowing (404 on every poll): it may have rung, so never re-dial.
    lost: dict[str, Call] = field(default_factory=dict)
    polls: int = 0
    requests: int = 0
    poll_errors: int = 0
    # Per call id answering 404 (e.g. the API lost it in a crash), until it is seen again.
    not_found: dict[str, NotFoundStreak] = field(default_factory=dict)

    @property
    def timed_out(self) -> bool:
        return bool(self.still_open)


class CallWatcher:
    """Polls one connection's calls until each is terminal or the deadline passes."""

    def __init__(
        self,
        client: AsyncCaseyClient,
        connection_code: str,
        policy: WaitPolicy | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self.client = client
        self.connection_code = connection_code
        self.policy = policy or WaitPolicy()
        self.on_change = on_change
        self._sweep_pages_estimate = 1
        # Each call's JSON at the last sweep, with the Call made of it: unchanged, not re-read.
        self._last_read: dict[str, tuple[Any, Call]] = {}
        fastest = self.policy.min_poll_seconds
        self.ages = CallAges(SKIP_MARGIN_POLLS * fastest, MAX_SKIP_POLLS * fastest)
        self._polls = 0
        self._skip_resumes_at = 0
        self._skip_pause = MIN_SKIP_PAUSE_POLLS

    async def wait(self, calls: Iterable[Call]) -> WaitResult:
        result = WaitResult()
        pending: dict[str, Call] = {}
        for call in calls:
            await self._settle(call, None, result, pending)
        deadline = time.monotonic() + self.policy.timeout_seconds
        interval = self.policy.min_poll_seconds
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(min(self.jittered(interval), remaining))
            changed = await self.poll(pending, result)
            interval = self.policy.next_interval(interval, changed)
        result.still_open = pending
        return result

    def jittered(self, interval: float) -> float:
        spread = interval * self.policy.jitter
        return max(0.0, interval + random.uniform(-spread, spread))

    async def poll(self, pending: dict[str, Call], result: WaitResult) -> bool:
        """One poll; True if any call changed status. Errors are counted, never raised."""
        result.polls += 1
        began = time.time()
        try:
            fresh = await self._fetch(pending, result)
        except (AuthenticationError, PermissionDeniedError):
            raise
        except CaseyError as exc:
            result.poll_errors += 1
            logger.warning(
                "poll %d of %s failed, will retry: %s", result.polls, self.connection_code, exc
            )
            fresh = []
        changed = self._give_up_lost(pending, result)
        still_open: list[Call] = []
        ended: list[Call] = []
        for call in fresh:
            result.not_found.pop(call.id, None)
            previous = pending.get(call.id)
            if previous is None:
                continue
            if previous is not call:  # else read again unchanged
                if call.normalized_status != previous.normalized_status:
                    changed = True
                await self._settle(call, previous.normalized_status, result, pending)
            (still_open if call.id in pending else ended).append(call)
        self.ages.seen(still_open, ended, began)
        self.ages.forget(pending)
        return changed

    def _give_up_lost(self, pending: dict[str, Call], result: WaitResult) -> bool:
        """Move calls answering 404 poll after poll from ``pending`` to ``result.lost``."""
        oldest = time.monotonic() - self.policy.lost_after_seconds
        lost = [
            call_id
            for call_id, streak in result.not_found.items()
            if streak.polls >= self.policy.lost_after_not_found
            and streak.since <= oldest
            and call_id in pending
        ]
        for call_id in lost:
            del result.not_found[call_id]
            result.lost[call_id] = pending.pop(call_id)
            logger.warning("%s; not waiting for it", lost_reason(call_id, self.policy))
        return bool(lost)

    async def _fetch(self, pending: dict[str, Call], result: WaitResult) -> list[Call]:
        self._polls += 1
        young = self._young(pending)
        # This poll's calls: any the engine adds while it waits on the API wait for the next.
        wanted = [i for i in pending if i not in young]
        if len(wanted) > self._sweep_pages_estimate:
            skip = len(young) if self._polls >= self._skip_resumes_at else 0
            swept = await self._sweep(pending, set(wanted), skip, result)
            missing = [i for i in wanted if i not in swept and i in pending]
            if missing and skip:
                self._pause_skipping()
            try:
                return list(swept.values()) + await self._get_each(missing, result)
            except (AuthenticationError, PermissionDeniedError):
                raise
            except CaseyError as exc:
                if not swept:
                    raise
                # The sweep's answers stand even if every stray GET failed (e.g. lost calls).
                result.poll_errors += 1
                logger.warning("%d calls could not be read, will retry: %s", len(missing), exc)
                return list(swept.values())
        return await self._get_each(wanted, result)

    def _pause_skipping(self) -> None:
        """A sweep below the young calls missed a call it wanted: the list may trail creates
        (a replica), so the newest calls it shows are older than ours and the skip went too
        far. Sweep from the top for a while, longer each time it happens again (young calls
        still are not wanted: one the list does not show yet is not read by id)."""
        self._skip_resumes_at = self._polls + self._skip_pause
        self._skip_pause = min(2 * self._skip_pause, MAX_SKIP_PAUSE_POLLS)

    def _young(self, pending: dict[str, Call]) -> set[str]:
        """The calls this poll may leave unread: created so recently that hardly any call has
        ended that young (``CallAges.young_age``). They are the newest pending calls, so the
        list's first ``len(young)`` entries hold no other pending call (newest first)."""
        age = self.ages.young_age()
        if age is None:
            return set()
        since = time.time() - age
        return {
            call_id
            for call_id, call in pending.items()
            if call.created_at is not None and call.created_at.timestamp() > since
        }

    async def _sweep(
        self, pending: dict[str, Call], wanted: set[str], skip: int, result: WaitResult
    ) -> dict[str, Call]:
        """List newest first, below the ``skip`` newest calls (the young ones), until every
        ``wanted`` call is seen or the list is exhausted.

        A call whose JSON is the same as at the last sweep comes back as the very ``Call``
        already pending (nothing validated): most of a page is other calls, or calls still
        ringing or talking.
        """
        seen: dict[str, Call] = {}
        found = pages = 0
        # The oldest create, to stop at; none (read to the end) unless every call has one.
        stamps = [c.created_at for c in pending.values() if c.created_at and c.created_at.tzinfo]
        oldest = min(stamps) if stamps and len(stamps) == len(pending) else None
        last, self._last_read = self._last_read, {}
        pages_read = recent_lazy_pages(
            self.client, self.connection_code, cutoff=oldest, offset=skip
        )
        async for page in pages_read:
            pages += 1
            result.requests += 1
            for index in range(len(page)):
                call_id = page.id_at(index)
                known = pending.get(call_id) if call_id is not None else None
                if known is not None:
                    found += call_id in wanted and call_id not in seen
                    seen[known.id] = self._read(page, index, known, last.get(known.id))
            if found >= len(wanted):
                break
        self._sweep_pages_estimate = max(pages, math.ceil(len(wanted) / LIST_LIMIT_MAX))
        return seen

    def _read(self, page: CallPage, index: int, known: Call, last: tuple[Any, Call] | None) -> Call:
        """The call at ``index``: ``known`` itself if the API sends what it sent last time."""
        raw = page.raw(index)
        call = known if last is not None and last[1] is known and last[0] == raw else page[index]
        self._last_read[call.id] = (raw, call)
        return call

    async def _get_each(self, call_ids: list[str], result: WaitResult) -> list[Call]:
        gate = asyncio.Semaphore(GET_CONCURRENCY)

        async def get(call_id: str) -> Call:
            async with gate:
                return await self.client.get_call(self.connection_code, call_id)

        result.requests += len(call_ids)
        answers = await asyncio.gather(*(get(i) for i in call_ids), return_exceptions=True)
        # One call that fails (a 404 for a call the API lost) must not hide every other call's
        # progress: keep the answers that came back; fail the poll only if none did.
        calls = [a for a in answers if isinstance(a, Call)]
        failures = [a for a in answers if isinstance(a, BaseException)]
        for call_id, answer in zip(call_ids, answers, strict=True):
            if isinstance(answer, NotFoundError):
                result.not_found.setdefault(call_id, NotFoundStreak()).polls += 1
        for failure in failures:
            if isinstance(failure, (AuthenticationError, PermissionDeniedError)) or not calls:
                raise failure
        if failures:
            result.poll_errors += 1
            logger.warning(
                "%d of %d calls of %s could not be read, will retry: %s",
                len(failures),
                len(call_ids),
                self.connection_code,
                failures[0],
            )
        return calls

    async def _settle(
        self, call: Call, previous: str | None, result: WaitResult, pending: dict[str, Call]
    ) -> None:
        """Record the call's latest state; report it when its status changed."""
        if call.normalized_status != previous and self.on_change is not None:
            outcome = self.on_change(call, previous)
            if outcome is not None:
                await outcome
        if call.is_terminal(self.policy.terminal_statuses):
            pending.pop(call.id, None)
            result.ended[call.id] = call
        else:
            pending[call.id] = call


def lost_reason(call_id: str, policy: WaitPolicy) -> str:
    return (
        f"call {call_id} is no longer found (HTTP 404 on {policy.lost_after_not_found} polls over "
        f"{policy.lost_after_seconds:g} s or more)"
    )
