"""The campaign engine: dial many contacts within limits, wait for all, retry some outcomes.

No Prefect here (the flow wraps it): one dispatcher and one watcher share the state below, so
10,000 contacts cost a handful of coroutines and no task run per contact. Exactly-once rests on
the dispatch ledger (``casey_flows.core.dispatch``): every create carries the key (campaign,
number, attempt); calls already carrying a key are adopted, never dialled again; an ambiguous
create is reconciled against the list before the same key is tried again.

Contacts stream in: one is read from the source when the dispatcher is ready for it, and its
track is let go once its outcome is handed over, so memory holds the calls in flight and the
retries waiting, not the list. The ledger is read once, before the first dial, into a compact
index of this campaign's keys; each contact's earlier calls are looked up as it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.models import ContactOutcome
from casey_flows.campaign.outcomes import STOPPED, Outcome, describe_outcome
from casey_flows.campaign.slots import Release, SlotGate
from casey_flows.client import (
    AmbiguousDispatchError,
    AsyncCaseyClient,
    AuthenticationError,
    Call,
    CallRequest,
    CaseyError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    mask_phone,
)
from casey_flows.client._base import utcnow
from casey_flows.client.status import normalize_status, normalize_statuses
from casey_flows.core.dispatch import (
    LedgerCall,
    RedialRule,
    find_dispatched,
    index_campaign_calls,
    log_duplicates,
    make_dispatch_key,
    with_dispatch_key,
)
from casey_flows.core.waiting import CallWatcher, WaitPolicy, WaitResult, lost_reason
from casey_flows.exceptions import LedgerScanIncomplete, LedgerUnavailable

logger = logging.getLogger(__name__)

# What stops a run the way a cancel does (a wind-down, every contact an outcome) unless the
# caller names more: the Prefect layer adds the signal its runner raises.
CANCELLED: tuple[type[BaseException], ...] = (asyncio.CancelledError,)
CUT_OFF_REASON = "the create was under way when the campaign stopped; it may have rung"
STILL_LIVE_REASON = "live when the campaign stopped; not hung up"

# Errors that say every create would fail the same way: stop the campaign, don't burn the list.
CAMPAIGN_WIDE_ERRORS = (AuthenticationError, PermissionDeniedError, NotFoundError, ConflictError)
# Server-clock slack when reconciling against the created_at of an earlier call.
SERVER_CLOCK_SLACK = timedelta(seconds=5)
# With no earlier call to anchor on, our clock against theirs.
CLIENT_CLOCK_SLACK = timedelta(minutes=2)
ZERO = timedelta(0)
# The dispatcher yields to the event loop at least this often while contacts are read and
# finished without a network wait (deferred, suppressed, adopted as done).
TURNS_BETWEEN_YIELDS = 64


@dataclass
class EngineSettings:
    campaign_id: str
    connection_code: str
    window: CallingWindow
    max_concurrent_calls: int = 10
    # Outcome values, or any status or ended_reason, however spelled ("No Answer" too).
    retry_outcomes: frozenset[str] = frozenset({Outcome.NO_ANSWER.value, Outcome.BUSY.value})
    max_attempts: int = 1
    retry_delay_seconds: float = 600.0
    call_timeout_seconds: float = 1800.0
    poll: WaitPolicy = field(default_factory=WaitPolicy)
    redial: RedialRule = field(default_factory=RedialRule)
    # On cancel: how long calls already ringing get to end before the report is written.
    # Well under the 30 s Prefect's runner waits between SIGTERM and SIGKILL.
    cancel_grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        self.retry_outcomes = normalize_statuses(self.retry_outcomes)


@dataclass(eq=False)  # by identity: tracks live in sets
class Track:
    """One contact's progress through the campaign."""

    contact: Contact
    attempt: int = 1
    call_ids: list[str] = field(default_factory=list)
    last_call: Call | None = None
    dispatched_at: float = 0.0
    outcome: ContactOutcome | None = None
    # Keys sent again after the ledger did not show them, and calls found beyond the first
    # for one key (someone dialled twice: reported, never hidden).
    redialled_keys: list[str] = field(default_factory=list)
    duplicate_call_ids: list[str] = field(default_factory=list)
    # The outcome went to EngineHooks.on_outcome (once per track).
    handed_over: bool = False

    def key(self, campaign_id: str) -> str:
        return make_dispatch_key(campaign_id, self.contact.phone_number, self.attempt)

    def finish(self, outcome: Outcome | str, **fields: object) -> None:
        self.outcome = ContactOutcome.of(
            self.contact,
            outcome,
            last_call=self.last_call,
            call_ids=self.call_ids,
            duplicate_call_ids=list(self.duplicate_call_ids),
            **fields,
        )

    def finish_stopped(self, terminal_statuses: frozenset[str]) -> None:
        """The campaign stopped before this contact's next dial: ``not_dialled``, or the last
        call's outcome when only a retry was left."""
        last = self.last_call
        if last is not None and last.is_terminal(terminal_statuses):
            self.finish(describe_outcome(last), reason="not dialled again: " + STOPPED)
        else:
            self.finish(Outcome.NOT_DIALLED, reason="not dialled: " + STOPPED)


@dataclass
class EngineHooks:
    """What the Prefect layer wants to hear about; all optional."""

    on_dispatched: Callable[[Call], None] | None = None
    on_ended: Callable[[Call], None] | None = None
    # A call found beyond the first for one dispatch key: a person was dialled twice.
    on_duplicate: Callable[[Call], None] | None = None
    # (contacts finished, contacts read so far, whether the source is read to its end)
    on_progress: Callable[[int, int, bool], Awaitable[None] | None] | None = None
    # Just before each create: a reason not to dial (suppressed since the list was read).
    before_dial: Callable[[Contact], Awaitable[str | None]] | None = None
    # Once per track, when its outcome is final (the outcomes CSV is written as they happen).
    # A re-dialled track's outcome is final after check_redialled (or the stop), which may
    # still find a second call for its key.
    on_outcome: Callable[[Track], None] | None = None


@dataclass(frozen=True)
class _Watched:
    """A call being watched: whose it is and the slot it holds (one record per call id; the
    watcher keeps its own view of the calls, ``_pending``)."""

    track: Track
    release: Release


@dataclass
class _Ambiguous:
    track: Track
    horizon: datetime
    release: Release
    misses: int = 0
    since: float = field(default_factory=time.monotonic)


class CampaignEngine:
    def __init__(
        self,
        client: AsyncCaseyClient,
        settings: EngineSettings,
        gate: SlotGate | None = None,
        hooks: EngineHooks | None = None,
        clock: Callable[[], datetime] | None = None,
        stop_signals: tuple[type[BaseException], ...] = CANCELLED,
    ) -> None:
        self.client = client
        self.stop_signals = stop_signals
        self.settings = settings
        self.gate = gate or SlotGate(settings.max_concurrent_calls)
        self.hooks = hooks or EngineHooks()
        self.now = clock or utcnow
        self.watcher = CallWatcher(client, settings.connection_code, settings.poll)
        self._ready: deque[Track] = deque()
        self._retries: list[tuple[float, int, Track]] = []
        self._seq = itertools.count()
        self._pending: dict[str, Call] = {}  # the watcher's: the latest of each call watched
        self._watched: dict[str, _Watched] = {}
        self._ambiguous: dict[str, _Ambiguous] = {}
        self._earliest_redial: datetime | None = None
        # The contacts still to read, and the tracks read but not handed over yet.
        self._source: Iterator[Contact] = iter(())
        self._exhausted = False
        self._active: set[Track] = set()
        self._redialled: list[Track] = []
        self._ledger: dict[str, list[LedgerCall]] = {}
        self._numbers: set[int] = set()  # every number read: never two tracks for one
        self._read = 0
        self._finished = 0
        self._turns = 0
        self._last_created_at: datetime | None = None
        self._wake = asyncio.Event()
        # Set by whatever must stop the whole run; both loops raise it at their next turn.
        self._fatal: BaseException | None = None
        self._inflight: dict[asyncio.Task[None], Track] = {}

    # -- setup --------------------------------------------------------------------------------

    async def read_ledger(self, since: datetime) -> None:
        """Index what earlier runs of this campaign dialled (back to ``since``), before the
        first dial: each contact's calls are adopted from it as the contact is read."""
        self._ledger = await index_campaign_calls(
            self.client, self.settings.connection_code, self.settings.campaign_id, since=since
        )
        if self._ledger:
            logger.info(
                "ledger: %d dispatch key(s) of this campaign already used", len(self._ledger)
            )

    def _adopt(self, track: Track) -> None:
        """The track takes over the calls earlier runs placed for its keys (each key's first;
        any further one is reported: dialled twice)."""
        calls: list[Call] = []
        for attempt in range(1, self.settings.max_attempts + 1):
            key = make_dispatch_key(self.settings.campaign_id, track.contact.phone_number, attempt)
            entries = self._ledger.pop(key, None)
            if entries:
                calls.append(self._note_duplicates(track, key, [e.as_call() for e in entries]))
        if calls:
            calls.sort(key=lambda c: c.created_at_raw or "")
            track.call_ids = [c.id for c in calls]
            track.attempt = len(calls)
            track.last_call = calls[-1]
            logger.info("adopted %d earlier call(s) for %s", len(calls), _masked(track))

    # -- running ------------------------------------------------------------------------------

    async def run(self, contacts: Iterable[Contact]) -> None:
        """Dial, wait and retry until every contact has an outcome (handed to ``on_outcome``).

        ``contacts`` is read one at a time, as the dispatcher gets to it; a number read again
        is skipped with a warning (a ``ContactStream`` collapses them first and counts them).
        Call :meth:`read_ledger` first.
        """
        self._source = iter(contacts)
        await self._report_progress()
        try:
            await _until_one_ends(self._dispatch_loop(), self._watch_loop())
        except self.stop_signals:  # cancelled from the UI, or the process told to shut down
            await self._wind_down()
            raise
        finally:  # only on failure can creates still be under way: a re-run adopts their calls
            for task in self._inflight:
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _read_next(self) -> bool:
        """Read one contact from the source: ready to dial or watch, or (adopted as done)
        finished or waiting for its retry. False once the source is read to its end."""
        if self._exhausted:
            return False
        try:
            contact = next(self._source)
        except StopIteration:
            self._exhausted = True
            self._wake.set()
            return False
        number = int(contact.phone_number[1:])  # E.164: fits 64 bits
        if number in self._numbers:  # two tracks for one number would share dispatch keys
            logger.warning(
                "contact %s appears twice; dialled once", mask_phone(contact.phone_number)
            )
            return True
        self._numbers.add(number)
        track = Track(contact=contact)
        self._read += 1
        self._active.add(track)
        self._adopt(track)
        call = track.last_call
        if call is not None and call.is_terminal(self.settings.poll.terminal_statuses):
            self._after_end(track, call, at_start=True)
        else:
            self._ready.append(track)  # to dial, or (adopted, still live) to watch
        return True

    async def _breathe(self) -> None:
        """Let the watcher run now and then while contacts finish without a network wait."""
        self._turns += 1
        if self._turns % TURNS_BETWEEN_YIELDS == 0:
            await asyncio.sleep(0)

    async def _wind_down(self) -> None:
        """Stopped: dial nobody else, give calls in flight a short grace, and give every track
        an outcome, so the report says exactly who was called.

        Creates cut off mid-request or not yet confirmed end ``unconfirmed`` (they may have
        rung); calls still live after the grace ``still_open`` (they are not hung up); the rest
        ``not_dialled``, or the last call's outcome when only a retry was left.
        """
        logger.warning("campaign stopping: no more dials; settling calls in flight")
        deadline = time.monotonic() + self.settings.cancel_grace_seconds
        watched = {id(w.track) for w in self._watched.values()}
        for task, track in list(self._inflight.items()):
            task.cancel()
            if track.outcome is None and id(track) not in watched:
                self._finish(track, Outcome.UNCONFIRMED, reason=CUT_OFF_REASON)
        releases = [entry.release for entry in self._ambiguous.values()]
        for entry in self._ambiguous.values():
            self._finish(entry.track, Outcome.UNCONFIRMED, reason=CUT_OFF_REASON)
        self._ambiguous.clear()
        result = WaitResult()
        while self._pending and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(asyncio.TimeoutError, CaseyError):
                await asyncio.wait_for(self.watcher.poll(self._pending, result), timeout=left)
            for call_id, call in list(result.ended.items()):
                ended = self._unwatch(call_id)
                releases.append(ended.release)
                self._finish(ended.track, describe_outcome(call))
            result.ended.clear()
            if self._pending:
                await asyncio.sleep(min(self.settings.poll.min_poll_seconds, max(left, 0)))
        for call_id in list(self._watched):
            live = self._unwatch(call_id)
            releases.append(live.release)
            self._finish(live.track, Outcome.STILL_OPEN, reason=STILL_LIVE_REASON)
        for track in list(self._active):
            if track.outcome is None:
                track.finish_stopped(self.settings.poll.terminal_statuses)
                self._finished += 1
        for track in list(self._active):  # stopped: no re-check of re-dialled keys comes after
            self._hand_over(track, final=True)
        await _release_all(releases, deadline)

    def _unwatch(self, call_id: str) -> _Watched:
        """Stop watching the call (gone from the watcher's view too); its record."""
        self._pending.pop(call_id, None)
        return self._watched.pop(call_id)

    def _unfinished_work(self) -> bool:
        """Some contact is still to read, or some track has no outcome yet.

        Counted, not read off the queues: a track is in no queue while a slot is being acquired
        for it or its ended call is being released, and both wait on the network.
        """
        return not self._exhausted or self._finished < self._read

    def _finish(self, track: Track, outcome: Outcome | str, **details: object) -> None:
        track.finish(outcome, **details)
        self._finished += 1
        self._hand_over(track)

    def _hand_over(self, track: Track, *, final: bool = False) -> None:
        """The track's outcome to ``on_outcome``, once; a re-dialled track's waits for
        check_redialled (``final``: no re-check is coming)."""
        if track.outcome is None or track.handed_over:
            return
        if track.redialled_keys and not final:
            if track not in self._redialled:
                self._redialled.append(track)
            return
        track.handed_over = True
        self._active.discard(track)
        if self.hooks.on_outcome:
            self.hooks.on_outcome(track)

    async def _dispatch_loop(self) -> None:
        while self._unfinished_work():
            self._raise_fatal()
            await self._breathe()
            if not self._ready and self._read_next():
                continue  # the contact read is ready now, or already has its outcome
            track = self._next_ready()
            if track is None:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_until_retry())
                continue
            live = track.last_call
            if live is not None and not live.is_terminal(self.settings.poll.terminal_statuses):
                self._watch(track, live, await self.gate.acquire())  # adopted, still live
                continue
            if (next_open := self._closed_until(track)) is not None:
                self._defer(track, next_open)
                continue
            release = await self.gate.acquire()
            if self._fatal:  # set while we waited for the slot: dial nobody more
                await release()
                self._ready.appendleft(track)
                continue
            if (next_open := self._closed_until(track)) is not None:  # shut while we waited
                await release()
                self._defer(track, next_open)
                continue
            if (suppressed := await self._suppressed_now(track, release)) is not None:
                await release()
                self._finish(track, Outcome.SUPPRESSED, reason=suppressed)
                continue
            task = asyncio.create_task(self._dispatch(track, release))
            self._inflight[task] = track
            task.add_done_callback(self._dispatch_done)
        await asyncio.gather(*self._inflight)

    async def _suppressed_now(self, track: Track, release: Release) -> str | None:
        """The dial-time check; if it fails (a stale list), the slot goes back and the run stops
        with the track still to dial."""
        if self.hooks.before_dial is None:
            return None
        try:
            return await self.hooks.before_dial(track.contact)
        except BaseException:
            await release()
            self._ready.appendleft(track)
            raise

    def _raise_fatal(self) -> None:
        if self._fatal:
            raise self._fatal

    def _closed_until(self, track: Track) -> datetime | None:
        """When the contact's window next opens, if it is closed now (else None)."""
        now = self.now()
        tz = track.contact.timezone
        if self.settings.window.is_open(now, tz):
            return None
        return self.settings.window.next_open(now, tz)

    def _dispatch_done(self, task: asyncio.Task[None]) -> None:
        """A dispatch that died of anything unexpected stops the run instead of hanging it."""
        self._inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None and self._fatal is None:
            self._fatal = task.exception()
            self._wake.set()

    def _next_ready(self) -> Track | None:
        if self._ready:
            return self._ready.popleft()
        if self._retries and self._retries[0][0] <= time.monotonic():
            return heapq.heappop(self._retries)[2]
        return None

    def _sleep_until_retry(self) -> float:
        if self._retries:
            return max(0.01, self._retries[0][0] - time.monotonic())
        return 1.0

    async def _dispatch(self, track: Track, release: Release) -> None:
        key = track.key(self.settings.campaign_id)
        horizon = self._horizon()
        try:
            request = CallRequest.build(
                phone_number=track.contact.phone_number,
                name=track.contact.name,
                participant_id=track.contact.participant_id,
                context=with_dispatch_key(track.contact.context, key, self.settings.campaign_id),
            )
            call = await self.client.create_call_from(self.settings.connection_code, request, key)
        except AmbiguousDispatchError:
            logger.warning("create for %s was ambiguous; reconciling %s", _masked(track), key)
            self._ambiguous[key] = _Ambiguous(track, horizon, release)  # the call may be live
        except Exception as exc:
            await release()
            if isinstance(exc, CaseyError) and not isinstance(exc, CAMPAIGN_WIDE_ERRORS):
                self._finish(track, Outcome.ERROR, reason=str(exc))  # this contact's own error
            else:  # would hit every contact, or unexpected: the run fails as a whole
                self._ready.appendleft(track)
                self._fatal = self._fatal or exc
        else:
            self._note_server_time(call)
            track.call_ids.append(call.id)
            self._watch(track, call, release)  # first: a failing hook must not orphan the call
            if self.hooks.on_dispatched:
                self.hooks.on_dispatched(call)
        finally:
            self._wake.set()

    def _note_server_time(self, call: Call) -> None:
        stamp = call.created_at
        if stamp and stamp.tzinfo and (not self._last_created_at or stamp > self._last_created_at):
            self._last_created_at = stamp

    def _horizon(self) -> datetime:
        """The earliest server time a call created by the next request can carry."""
        if self._last_created_at is not None:
            return self._last_created_at - SERVER_CLOCK_SLACK
        return self.now() - CLIENT_CLOCK_SLACK

    def _watch(self, track: Track, call: Call, release: Release) -> None:
        track.last_call = call
        track.dispatched_at = time.monotonic()
        self._pending[call.id] = call
        self._watched[call.id] = _Watched(track, release)

    async def _watch_loop(self) -> None:
        interval = self.settings.poll.min_poll_seconds
        result = WaitResult()
        while self._unfinished_work():
            await asyncio.sleep(self.watcher.jittered(interval))
            self._raise_fatal()
            changed = False
            if self._pending:
                changed = await self.watcher.poll(self._pending, result)
                for call_id, call in list(result.ended.items()):
                    await self._ended(call_id, call)
                result.ended.clear()
                await self._give_up_lost(result)
                await self._expire_overdue()
            if self._ambiguous:
                await self._reconcile()
            await self._report_progress()
            interval = self.settings.poll.next_interval(interval, changed)

    async def _ended(self, call_id: str, call: Call) -> None:
        ended = self._unwatch(call_id)
        await ended.release()
        if self.hooks.on_ended:
            self.hooks.on_ended(call)
        self._after_end(ended.track, call)
        self._wake.set()

    def _after_end(self, track: Track, call: Call, at_start: bool = False) -> None:
        """Final outcome, or a retry (after the delay, inside the window)."""
        track.last_call = call
        retryable = {call.normalized_status, normalize_status(call.ended_reason)}
        if track.attempt < self.settings.max_attempts and retryable & self.settings.retry_outcomes:
            track.attempt += 1
            now = self.now()
            # An earlier run's call: the delay counts from when it was placed.
            since = (call.created_at if at_start and call.created_at else None) or now
            due = max(now, since + timedelta(seconds=self.settings.retry_delay_seconds))
            tz = track.contact.timezone
            if not self.settings.window.is_open(due, tz):
                self._defer(track, self.settings.window.next_open(due, tz))
                return
            wait = (due - now).total_seconds()
            heapq.heappush(self._retries, (time.monotonic() + wait, next(self._seq), track))
            return
        self._finish(track, describe_outcome(call))

    def _defer(self, track: Track, next_open: datetime) -> None:
        self._finish(
            track, Outcome.DEFERRED, next_call_at=next_open, reason="outside calling window"
        )

    async def _give_up_lost(self, result: WaitResult) -> None:
        """Calls the API keeps answering 404 for: an error outcome, never a second dial."""
        for call_id in list(result.lost):
            del result.lost[call_id]
            lost = self._unwatch(call_id)
            await lost.release()
            self._finish(
                lost.track,
                Outcome.ERROR,
                reason=f"{lost_reason(call_id, self.settings.poll)}; it may have been dialled, "
                "so it is not dialled again",
            )

    async def _expire_overdue(self) -> None:
        """Stop waiting for calls past call_timeout_seconds (they are not cancelled)."""
        limit = time.monotonic() - self.settings.call_timeout_seconds
        overdue = [i for i, w in self._watched.items() if w.track.dispatched_at < limit]
        for call_id in overdue:
            late = self._unwatch(call_id)
            await late.release()
            self._finish(
                late.track, Outcome.STILL_OPEN, reason="stopped waiting; the call was not cancelled"
            )

    async def _reconcile(self) -> None:
        """One ledger scan for every ambiguous key: adopt what exists; a key the list has not
        shown for long enough (the settings' RedialRule) is dialled again, or ends unconfirmed.
        """
        since = min(a.horizon for a in self._ambiguous.values())
        try:
            found = await find_dispatched(
                self.client,
                self.settings.connection_code,
                self._ambiguous,
                since=since,
                margin=ZERO,
            )
        except CaseyError as exc:
            logger.warning("ledger scan failed, will retry: %s", exc)
            self._give_up_unconfirmed(exc)
            return
        rule = self.settings.redial
        for key, entry in list(self._ambiguous.items()):
            if key in found:
                del self._ambiguous[key]
                call = self._note_duplicates(entry.track, key, found[key])
                entry.track.call_ids.append(call.id)
                self._watch(entry.track, call, entry.release)
                logger.info("adopted call %s for ambiguous key %s", call.id, key)
                continue
            entry.misses += 1
            if not rule.settled(entry.since, entry.misses):
                continue
            del self._ambiguous[key]
            await entry.release()
            if rule.redial:
                logger.warning(
                    "key %s not in the call list after %g s: dialling again",
                    key,
                    rule.after_seconds,
                )
                entry.track.redialled_keys.append(key)
                self._earliest_redial = min(self._earliest_redial or entry.horizon, entry.horizon)
                self._ready.appendleft(entry.track)  # same attempt, same key
            else:
                self._finish(
                    entry.track,
                    Outcome.UNCONFIRMED,
                    reason=f"the create may have rung; the call list did not show it within "
                    f"{rule.after_seconds:g} s, and re-dialling is off",
                )
        self._wake.set()

    def _note_duplicates(self, track: Track, key: str, calls: list[Call]) -> Call:
        """The call the track keeps for ``key`` (one it already watches, else the first); every
        other call for the key is recorded on the track and reported."""
        log_duplicates(key, calls)
        kept = next((c for c in calls if c.id in track.call_ids), calls[0])
        for extra in calls:
            if extra.id != kept.id and extra.id not in track.duplicate_call_ids:
                track.duplicate_call_ids.append(extra.id)
                if self.hooks.on_duplicate:
                    self.hooks.on_duplicate(extra)
        return kept

    async def check_redialled(self) -> None:
        """After the run: one more read for every key that was dialled again, so a create the
        list showed only late (a second call for the key) is reported, not hidden."""
        tracks, self._redialled = self._redialled, []
        keys = {key: t for t in tracks for key in t.redialled_keys}
        try:
            await self._recheck(keys)
        finally:  # their outcomes are final now, re-checked or not
            for track in tracks:
                self._hand_over(track, final=True)

    async def _recheck(self, keys: dict[str, Track]) -> None:
        if not keys or self._earliest_redial is None:
            return
        try:
            found = await find_dispatched(
                self.client, self.settings.connection_code, keys, since=self._earliest_redial
            )
        except (CaseyError, LedgerScanIncomplete) as exc:  # a report; the calls are all done
            logger.warning("could not re-check %d re-dialled key(s): %s", len(keys), exc)
            return
        for key, calls in found.items():
            track = keys[key]
            self._note_duplicates(track, key, calls)
            if track.outcome is not None:
                track.outcome.duplicate_call_ids = list(track.duplicate_call_ids)

    def _give_up_unconfirmed(self, exc: CaseyError) -> None:
        """Fail the run once creates stay unconfirmed for call_timeout_seconds of failed scans.

        Without this an API that fails every list keeps the campaign running forever, and every
        new create sent into the outage is ambiguous too. The run fails loudly instead; the
        contacts are never re-dialled blind (a create may have rung): a re-run adopts them.
        """
        limit = time.monotonic() - self.settings.call_timeout_seconds
        stale = [entry for entry in self._ambiguous.values() if entry.since < limit]
        if stale and self._fatal is None:
            self._fatal = LedgerUnavailable(
                f"stopping the campaign: {len(stale)} create(s) may have dialled and the call "
                f"list could not be read for {self.settings.call_timeout_seconds:g} s to confirm "
                f"them (last error: {exc}); re-run with the same campaign_id to adopt or dial them"
            )

    async def _report_progress(self) -> None:
        if self.hooks.on_progress:
            outcome = self.hooks.on_progress(self._finished, self._read, self._exhausted)
            if outcome is not None:
                await outcome


async def _release_all(releases: list[Release], deadline: float) -> None:
    """Slots still held go back (a global limit's slots too), within what is left of the grace;
    a slot that cannot be released in time expires with its lease."""
    left = max(1.0, deadline - time.monotonic())
    with contextlib.suppress(asyncio.TimeoutError, Exception):
        await asyncio.wait_for(
            asyncio.gather(*(r() for r in releases), return_exceptions=True), timeout=left
        )


async def _until_one_ends(*coroutines: Awaitable[None]) -> None:
    """Run together until one returns or raises, cancel the rest, and re-raise its exception.

    Each loop returns only once every track has an outcome, so the first to see that ends the
    run (the other may be asleep for a whole poll interval); a loop that dies stops the other.
    """
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _masked(track: Track) -> str:
    return mask_phone(track.contact.phone_number)
