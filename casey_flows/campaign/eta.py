"""When a campaign would finish: the engine's dialling, simulated without dialling.

A dry run's ETA. Every call is taken to last ``expected_call_seconds`` from its create, and the
plan then follows ``CampaignEngine`` (``engine.py``) step by step:

- Contacts are taken in order. One whose calling window is closed when its turn comes is
  deferred to the window's next opening and is not dialled by this run, even if that opening is
  minutes away: the engine checks the window at dispatch time and never waits for it (so a
  contact whose window opens while the queue is still busy *is* dialled).
- An open contact waits for one of ``max_concurrent_calls`` slots; the window is checked again
  when the slot comes (closed by then: deferred, and the slot goes to the next contact).
- Its create then waits for a token of the client's bucket (``max_requests_per_second``, a burst
  of as many), behind every request sent before it. The call starts when its create is sent.
- The engine frees a slot only when a poll *sees* the call ended. The watcher polls
  ``poll.min_poll_seconds`` after its last poll while something changed (a call was placed or
  ended; a call answered mid-ring is a change too, not modelled), and backs off (x
  ``poll.backoff``, up to ``poll.max_poll_seconds``) while nothing changes. With calls of one
  length nothing changes mid-call, so that latency is part of every slot's hold: at 0.6 s calls
  and 0.2 s polls it is 15 % of the makespan. A poll costs one list request per 100 calls in
  flight, from the same bucket as creates.
- A call still running after ``call_timeout_seconds`` gives its slot back at the next poll (the
  engine stops waiting for it; the call itself runs on).

The ETA is when the last call placed by *this run* ends. For a list that spans zones that can be
tomorrow: the engine dials whoever's window is open at their turn for as long as the list lasts.

Not modelled, and listed in every preview (:func:`assumptions`): retries (which calls need one is
unknown in advance), calls longer or shorter than expected, poll jitter (±20 %, zero on
average), API errors, 429s and latency, the ledger scan before the first create, and slots other
runs take from a shared global concurrency limit.

Cost: each contact is handled once in O(1), and each wait for a slot simulates at most
log(max_poll / poll) / log(backoff) polls before jumping straight to the poll that frees it:
the planning is a small part of a dry run's cost (``benchmarks/campaign.py --scenario
1m-dry-run``: validating and writing each contact's outcome dominate). No Prefect, no HTTP.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.models import CampaignPreview
from casey_flows.client._constants import LIST_LIMIT_MAX
from casey_flows.client.status import normalize_status
from casey_flows.core.waiting import WaitPolicy

# Why a contact planned for this run was deferred (``ContactPlan.deferred_reason``).
CLOSED_NOW = "outside calling window"  # closed from the plan's start to the contact's turn
CLOSES_FIRST = "calling window closed before its turn"  # open at some point, not at its turn


@dataclass(frozen=True)
class PlanSettings:
    """The limits and timings a plan simulates; the flow fills them from its parameters."""

    window: CallingWindow
    max_concurrent_calls: int = 10
    max_requests_per_second: float = 10.0
    expected_call_seconds: float = 120.0
    # How the engine polls: the same policy it is given (min, max, backoff).
    poll: WaitPolicy = field(
        default_factory=lambda: WaitPolicy(min_poll_seconds=2.0, max_poll_seconds=10.0)
    )
    call_timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_concurrent_calls < 1:
            raise ValueError("max_concurrent_calls must be >= 1")
        for name in ("max_requests_per_second", "expected_call_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")

    @property
    def longest_poll(self) -> float:
        """The watcher's interval once nothing has changed for a while."""
        return max(self.poll.max_poll_seconds, self.poll.min_poll_seconds)


@dataclass
class ContactPlan:
    """One contact's part of the plan: a start (dialled by this run) or a deferral."""

    start: datetime | None = None
    next_open: datetime | None = None
    deferred_reason: str | None = None


@dataclass
class DiallingPlan:
    """What the simulated run does overall (and per contact, in input order, when asked)."""

    now: datetime
    settings: PlanSettings
    contacts: list[ContactPlan] = field(default_factory=list)
    dialled: int = 0
    deferred: int = 0
    # Local date (ISO, in each contact's own zone) of the opening each deferred contact waits for.
    deferred_by_day: dict[str, int] = field(default_factory=dict)
    eta: datetime | None = None
    polls: int = 0  # simulated one by one (idle ones are jumped over): O(contacts)

    @property
    def makespan_seconds(self) -> float:
        """From the plan's start to the end of the last call it places (0 when none)."""
        return (self.eta - self.now).total_seconds() if self.eta else 0.0


class _Bucket:
    """The client's token bucket (``client/ratelimit.py``), in simulated time: FIFO grants."""

    def __init__(self, rate: float, start: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.at = start  # the last grant; a later request is served after it

    def take(self, t: float, n: int = 1) -> float:
        """When ``n`` requests asked for at ``t`` are all sent (one token each, in order)."""
        t = max(t, self.at)
        tokens = min(self.capacity, self.tokens + (t - self.at) * self.rate)
        if tokens < n:
            t += (n - tokens) / self.rate
            tokens = float(n)
        self.tokens, self.at = tokens - n, t
        return t


class _ZoneHours:
    """One zone's current stretch of the window: closed on ``[since, opens)``, open on
    ``[opens, closes)``. Time only moves forward, so each zone recomputes once per opening."""

    def __init__(self, window: CallingWindow, tz: str | None, start: float) -> None:
        self.window = window
        self.tz = tz
        self.since = self.opens = self.closes = -math.inf
        self.opens_at: datetime | None = None
        self.open_at(start)  # so ``since`` stays the plan's start until the window first shuts

    def open_at(self, t: float) -> bool:
        if not self.since <= t < self.closes:
            at = datetime.fromtimestamp(t, timezone.utc)
            self.opens_at = self.window.next_open(at, self.tz)
            closes = self.window.closes_at(self.opens_at, self.tz)
            assert closes is not None  # open at opens_at by definition
            self.since, self.opens, self.closes = t, self.opens_at.timestamp(), closes.timestamp()
        return t >= self.opens


class _Watcher:
    """The engine's watch loop, in simulated time (``CampaignEngine._watch_loop``)."""

    def __init__(self, settings: PlanSettings, bucket: _Bucket, start: float) -> None:
        self.policy = settings.poll
        self.poll = settings.poll.min_poll_seconds
        self.max_poll = settings.longest_poll
        self.hold = settings.expected_call_seconds
        if settings.call_timeout_seconds is not None:  # stops waiting; the slot comes back
            self.hold = min(self.hold, settings.call_timeout_seconds)
        self.bucket = bucket
        self.interval = self.poll
        self.next_at = start + self.poll  # the loop sleeps before its first poll
        self.pending: deque[float] = deque()  # when each call in flight can be seen gone
        self.unseen: deque[float] = deque()  # creates no poll has seen yet
        self.polls = 0

    def placed(self, start: float) -> None:
        # Creates are granted in order and every hold is the same, so both queues stay sorted.
        self.pending.append(start + self.hold)
        self.unseen.append(start)

    def until_freed(self) -> tuple[float, int]:
        """Run polls until one sees calls gone: when that poll ends, and how many it freed."""
        while True:
            self._skip_idle_polls()
            at = self.next_at
            pages = math.ceil(len(self.pending) / LIST_LIMIT_MAX)
            done = self.bucket.take(at, pages) if pages else at
            self.polls += 1
            freed = 0
            while self.pending and self.pending[0] <= done:
                self.pending.popleft()
                freed += 1
            seen_new = False
            while self.unseen and self.unseen[0] <= done:
                self.unseen.popleft()
                seen_new = True
            changed = freed > 0 or seen_new
            self.interval = self.policy.next_interval(self.interval, changed)
            self.next_at = done + self.interval
            if freed:
                return done, freed

    def _skip_idle_polls(self) -> None:
        """Jump over polls that can see nothing: the interval is at its longest and the next
        change (a call gone or a create not yet seen) is further away than one interval."""
        if self.interval < self.max_poll or not self.pending or self.bucket.at > self.next_at:
            return  # still backing off, nothing to see, or the poll queues behind creates
        pages = math.ceil(len(self.pending) / LIST_LIMIT_MAX)
        if pages > self.bucket.rate * self.max_poll:  # polls alone drain the bucket: go one by one
            return
        change = min(self.pending[0], self.unseen[0] if self.unseen else math.inf)
        skipped = math.ceil((change - self.next_at) / self.max_poll) - 1
        if skipped > 0:
            # Each skipped poll's pages are refilled before the next one (checked above).
            self.next_at += skipped * self.max_poll
            self.bucket.take(self.next_at - self.max_poll, pages)


class DiallingPlanner:
    """Simulate the engine dialling contacts one at a time, as they are read.

    ``plan(tz)`` says when the next contact (in zone ``tz``; None: the window's own zone) would
    be dialled, or the opening it would be deferred to; ``finish()`` sums the plan up, with
    when the last call placed would end (``eta``). Memory does not grow with the contacts.
    """

    def __init__(self, settings: PlanSettings, now: datetime) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("`now` must be timezone-aware")
        self.now = now.astimezone(timezone.utc)
        self.settings = settings
        self._t0 = self._t = self.now.timestamp()
        self._bucket = _Bucket(settings.max_requests_per_second, self._t0)
        self._watcher = _Watcher(settings, self._bucket, self._t0)
        self._hours: dict[str | None, _ZoneHours] = {}
        self._free = settings.max_concurrent_calls
        self._last_start: float | None = None
        self._dialled = 0
        self._deferred_days: Counter[str] = Counter()
        self._day_of: dict[tuple[str | None, datetime], str] = {}

    def plan(self, tz: str | None) -> ContactPlan:
        zone = self._hours.get(tz)
        if zone is None:
            zone = self._hours[tz] = _ZoneHours(self.settings.window, tz, self._t0)
        if not zone.open_at(self._t):
            return self._defer(zone, CLOSED_NOW if zone.since == self._t0 else CLOSES_FIRST)
        if self._free == 0:
            self._t, self._free = self._watcher.until_freed()
            if not zone.open_at(self._t):  # shut while it waited for the slot
                return self._defer(zone, CLOSES_FIRST)
        self._free -= 1
        start = self._bucket.take(self._t)
        self._watcher.placed(start)
        self._last_start = start
        self._dialled += 1
        return ContactPlan(start=datetime.fromtimestamp(start, timezone.utc))

    def finish(self) -> DiallingPlan:
        eta = None
        if self._last_start is not None:
            end = self._last_start + self.settings.expected_call_seconds
            eta = datetime.fromtimestamp(end, timezone.utc)
        return DiallingPlan(
            now=self.now,
            settings=self.settings,
            dialled=self._dialled,
            deferred=sum(self._deferred_days.values()),
            deferred_by_day=dict(sorted(self._deferred_days.items())),
            eta=eta,
            polls=self._watcher.polls,
        )

    def _defer(self, zone: _ZoneHours, reason: str) -> ContactPlan:
        assert zone.opens_at is not None
        key = (zone.tz, zone.opens_at)
        if key not in self._day_of:
            local = zone.opens_at.astimezone(self.settings.window.zone(zone.tz))
            self._day_of[key] = local.date().isoformat()
        self._deferred_days[self._day_of[key]] += 1
        return ContactPlan(next_open=zone.opens_at, deferred_reason=reason)


def plan_dialling(
    zones: Iterable[str | None], settings: PlanSettings, now: datetime
) -> DiallingPlan:
    """Every contact's plan (in these zones, in order) and the summary: a
    :class:`DiallingPlanner` run over a list, keeping each contact's step."""
    planner = DiallingPlanner(settings, now)
    steps = [planner.plan(tz) for tz in zones]
    plan = planner.finish()
    plan.contacts = steps
    return plan


def assumptions(
    settings: PlanSettings,
    *,
    max_attempts: int = 1,
    retry_outcomes: Sequence[str] = (),
    retry_delay_seconds: float = 0.0,
    global_concurrency_limit: str | None = None,
) -> list[str]:
    """What the ETA takes for granted, in words shown next to it."""
    said = [
        f"every call lasts {settings.expected_call_seconds:g} s from its create "
        "(expected_call_seconds); real calls vary",
        "a slot is freed when a poll sees its call ended: every "
        f"{settings.poll.min_poll_seconds:g} s while statuses change, backing off to "
        f"{settings.longest_poll:g} s while none do",
        f"creates and polls share {settings.max_requests_per_second:g} requests/s; API latency, "
        "errors, 429s and the ledger scan before the first create are not counted",
        "contacts are dialled in order; one whose window is closed when its turn comes is "
        "deferred to its next opening, as the engine does",
    ]
    if max_attempts > 1:
        # As the engine matches them: "No Answer" is no_answer.
        spelled = dict.fromkeys(s for s in map(normalize_status, retry_outcomes) if s)
        outcomes = ", ".join(spelled) or "none"
        said.append(
            f"first attempts only: retries ({outcomes}; up to {max_attempts} attempts, "
            f"{retry_delay_seconds:g} s apart) cannot be known in advance and come on top"
        )
    else:
        said.append("first attempts only (max_attempts = 1: no retries)")
    if global_concurrency_limit:
        said.append(
            f"the slots of global concurrency limit {global_concurrency_limit!r} are taken to be "
            "free; other runs sharing it slow this one down"
        )
    return said


def preview(
    plan: DiallingPlan,
    *,
    suppressed: int = 0,
    excluded: int = 0,
    rejected: int = 0,
    max_attempts: int = 1,
    assumed: list[str] | None = None,
) -> CampaignPreview:
    """The plan's summary as ``CampaignResult.preview`` carries it."""
    s = plan.settings
    return CampaignPreview(
        as_of=plan.now,
        eta=plan.eta,
        makespan_seconds=round(plan.makespan_seconds, 3),
        dialled_now=plan.dialled,
        deferred=plan.deferred,
        deferred_by_day=plan.deferred_by_day,
        suppressed=suppressed,
        excluded=excluded,
        rejected=rejected,
        expected_call_seconds=s.expected_call_seconds,
        max_attempts=max_attempts,
        assumptions=assumed if assumed is not None else assumptions(s),
    )
