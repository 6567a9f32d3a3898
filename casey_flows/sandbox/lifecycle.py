"""The call lifecycle: one heap of due transitions, processed by one background task.

Why one ticker and not a coroutine per call: 10,000 live calls would be 10,000 sleeping tasks;
a heap is a few hundred kilobytes and its lag is measurable in one place (``ticker_stats``).

Each call's fate (outcome, ring time, talk time) is drawn once, at create time, from a seeded
RNG that always consumes the same number of draws per call, so with a fixed seed the same
sequence of creates gets the same outcomes, whatever the timing. A call's conversation starts
when it is answered and ends in the same transition as the call (``conversations.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.clock import iso_now, mono_from_wall, mono_now, wall_now
from casey_flows.sandbox.config import SandboxConfig
from casey_flows.sandbox.conversations import Conversations, forced_answer
from casey_flows.sandbox.limits import DialSlots
from casey_flows.sandbox.store import CallRecord, CallStore

logger = logging.getLogger(__name__)

# Heap actions
_START = "start"  # scheduled -> queued (earliest_at reached)
_DIAL = "dial"  # queued (slot held) -> ringing
_ANSWER = "answer"  # ringing -> in_progress
_END = "end"  # ringing | in_progress -> terminal
_EXPIRE = "expire"  # scheduled | queued -> failed/schedule_expired when latest_at passes

_BATCH = 500  # transitions processed before yielding to the HTTP side


def outcome_for_number(phone_number: str) -> str | None:
    """The magic outcome for a number: its last four digits' if they are a magic suffix, else
    ``completed`` for a number that forces an answer (it must connect and end to give one)."""
    outcome = v.MAGIC_SUFFIXES.get(phone_number[-4:])
    if outcome is None and forced_answer(phone_number) is not None:
        return "completed"
    return outcome


class LifecycleEngine:
    """Owns every status change after create; the HTTP layer only calls ``admit``/``force``."""

    def __init__(
        self,
        config: SandboxConfig,
        store: CallStore,
        conversations: Conversations,
        on_change: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.conversations = conversations
        self.slots = DialSlots(config.effective_concurrency_cap)
        self._on_change = on_change or (lambda record: None)
        self._rng = random.Random(config.seed)
        self._names = list(config.outcome_weights)
        self._weights = [config.outcome_weights[n] for n in self._names]
        self._heap: list[tuple[float, int, str, int, str]] = []
        self._counter = 0
        self._waiting: dict[str, deque[CallRecord]] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.processed = 0
        self.max_lag_s = 0.0
        self.last_lag_s = 0.0
        # High-water mark of ringing + in_progress per connection: proves the cap held.
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}

    # -- planning ----------------------------------------------------------------------------
    def plan(self, record: CallRecord) -> None:
        """Draw the call's fate. Always four draws, so magic numbers don't shift the sequence."""
        cfg = self.config
        u_pick, u_ring, u_talk, u_talk2 = (self._rng.random() for _ in range(4))
        picked = self._pick(u_pick)
        magic = outcome_for_number(record.phone_number)
        outcome = magic or picked
        record.outcome = outcome
        ring = cfg.ring_time_s * (0.5 + u_ring)
        if outcome == "busy":
            ring = cfg.ring_time_s * (0.2 + 0.4 * u_ring)
        elif outcome == "no_answer":
            ring = cfg.no_answer_timeout_s
        elif outcome == "failed":
            ring = cfg.ring_time_s * (0.1 + 0.2 * u_ring)
        record.ring_s = ring
        if outcome == v.LONG_CALL:
            record.talk_s = v.LONG_CALL_FACTOR * cfg.call_duration_mean_s
        elif outcome == "voicemail":
            record.talk_s = cfg.voicemail_duration_s * (0.75 + 0.5 * u_talk)
        else:
            record.talk_s = self._duration(u_talk, u_talk2)
            cap = cfg.max_call_duration_s
            if magic is None and cap is not None and record.talk_s > cap:
                record.talk_s = cap
                record.outcome = "max_duration"

    def _pick(self, u: float) -> str:
        total = sum(self._weights)
        acc = 0.0
        for name, weight in zip(self._names, self._weights, strict=False):
            acc += weight / total
            if u < acc:
                return name
        return self._names[-1]

    def _duration(self, u1: float, u2: float) -> float:
        mean = self.config.call_duration_mean_s
        dist = self.config.call_duration_distribution
        if dist == "fixed" or mean <= 0:
            return mean
        if dist == "exponential":
            return -mean * math.log(1.0 - u1)
        sigma = self.config.lognormal_sigma
        mu = math.log(mean) - sigma * sigma / 2.0
        # Box-Muller: one normal from two uniforms, keeping the draw count fixed.
        z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
        return math.exp(mu + sigma * z)

    # -- admission ---------------------------------------------------------------------------
    def admit(self, record: CallRecord) -> None:
        """A freshly created call (status already ``queued`` or ``scheduled``) enters the engine."""
        if record.latest_at is not None:
            self._push_wall(record.latest_at, record, _EXPIRE, check_version=False)
        if record.status == v.SCHEDULED and record.earliest_at is not None:
            self._push_wall(record.earliest_at, record, _START)
            return
        self._enqueue_dial(record)

    def resume(self, record: CallRecord) -> None:
        """Re-enter a call loaded from SQLite after a restart, continuing where it stopped."""
        record.slot_held = False
        if record.status in v.TERMINAL_STATUSES:
            return
        if record.latest_at is not None and record.status in (v.SCHEDULED, v.QUEUED):
            self._push_wall(record.latest_at, record, _EXPIRE, check_version=False)
        if record.status == v.SCHEDULED and record.earliest_at is not None:
            self._push_wall(record.earliest_at, record, _START)
        elif record.status == v.QUEUED:
            self._enqueue_dial(record)
        else:  # ringing / in_progress: the call holds a slot and has a pending transition
            self.slots.used[record.connection_code] = (
                self.slots.used.get(record.connection_code, 0) + 1
            )
            self._count_in_flight(record.connection_code, +1)
            record.slot_held = True
            action = _ANSWER if record.status == v.RINGING else _END
            if record.status == v.RINGING and not v.OUTCOMES[self._outcome(record)].connects:
                action = _END
            self._push_wall(self._resumed_due(record), record, action)
            record.due_speed = self.config.speed  # still a relative (simulated) delay

    def _resumed_due(self, record: CallRecord) -> float:
        """When a resumed transition is due: the remaining simulated time is kept and rescaled
        to the current speed, so a call paused at speed 0.01 finishes fast at speed 1000."""
        now = wall_now()
        if record.next_due_wall is None:
            return now
        remaining_real = max(0.0, record.next_due_wall - now)
        if record.due_speed <= 0:
            return now + remaining_real
        return now + remaining_real * record.due_speed / self.config.speed

    def _enqueue_dial(self, record: CallRecord) -> None:
        if self.slots.try_take(record.connection_code):
            record.slot_held = True
            self._push_in(0.0, record, _DIAL)
        else:
            self._waiting.setdefault(record.connection_code, deque()).append(record)

    def _free_slot(self, record: CallRecord) -> None:
        if not record.slot_held:
            return
        record.slot_held = False
        self.slots.give_back(record.connection_code)
        queue = self._waiting.get(record.connection_code)
        while queue:
            nxt = queue.popleft()
            if nxt.status == v.QUEUED and not nxt.slot_held:
                self._enqueue_dial(nxt)
                break

    # -- the heap ----------------------------------------------------------------------------
    def _push_in(self, sim_seconds: float, record: CallRecord, action: str) -> None:
        real = sim_seconds / self.config.speed
        record.next_due_wall = wall_now() + real
        record.due_speed = self.config.speed
        self._push(mono_now() + real, record, action, record.version)

    def _push_wall(
        self, epoch: float, record: CallRecord, action: str, check_version: bool = True
    ) -> None:
        if action != _EXPIRE:
            record.next_due_wall = epoch
            record.due_speed = 0.0
        self._push(mono_from_wall(epoch), record, action, record.version if check_version else -1)

    def _push(self, due: float, record: CallRecord, action: str, version: int) -> None:
        self._counter += 1
        entry = (due, self._counter, record.id, version, action)
        was_head = not self._heap or due < self._heap[0][0]
        heapq.heappush(self._heap, entry)
        if was_head and self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """The single ticker: sleep until the earliest due transition (or a new earlier one)."""
        self._wake = asyncio.Event()
        while True:
            now = mono_now()
            done = 0
            while self._heap and self._heap[0][0] <= now and done < _BATCH:
                due, _, call_id, version, action = heapq.heappop(self._heap)
                self.last_lag_s = now - due
                self.max_lag_s = max(self.max_lag_s, self.last_lag_s)
                record = self.store.calls.get(call_id)
                if record is not None and (version < 0 or version == record.version):
                    try:
                        self._apply(record, action)
                    except Exception:  # a bug in one transition must not stop the clock
                        logger.exception("transition %s failed for call %s", action, call_id)
                done += 1
            self.processed += done
            if done >= _BATCH:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            timeout = self._heap[0][0] - mono_now() if self._heap else None
            if timeout is not None and timeout <= 0:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="sandbox-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- transitions -------------------------------------------------------------------------
    def _outcome(self, record: CallRecord) -> str:
        return "completed" if record.outcome == v.LONG_CALL else record.outcome

    def _set(self, record: CallRecord, status: str) -> None:
        self.store.set_status(record, status)
        record.updated_at = iso_now()
        record.touched()
        self._on_change(record)

    def _apply(self, record: CallRecord, action: str) -> None:
        outcome = v.OUTCOMES[self._outcome(record)]
        if action == _START and record.status == v.SCHEDULED:
            record.next_due_wall = None
            self._set(record, v.QUEUED)
            self._enqueue_dial(record)
        elif action == _DIAL and record.status == v.QUEUED:
            self._count_in_flight(record.connection_code, +1)
            self._set(record, v.RINGING)
            self._push_in(record.ring_s, record, _ANSWER if outcome.connects else _END)
        elif action == _ANSWER and record.status == v.RINGING:
            self._connect(record)
            self._set(record, v.IN_PROGRESS)
            self._push_in(record.talk_s, record, _END)
        elif action == _END and record.status in v.IN_FLIGHT_STATUSES:
            self._finish(record, outcome.status, outcome.ended_reason)
        elif action == _EXPIRE and record.status in (v.SCHEDULED, v.QUEUED):
            self._finish(record, v.FAILED, v.SCHEDULE_EXPIRED)

    def _count_in_flight(self, code: str, delta: int) -> None:
        now = self.in_flight.get(code, 0) + delta
        self.in_flight[code] = now
        if now > self.max_in_flight.get(code, 0):
            self.max_in_flight[code] = now

    def _connect(self, record: CallRecord) -> None:
        conversation = self.conversations.begin(record.connection_code, record.name, record.context)
        self.store.attach_conversation(record, conversation)

    def _finish(self, record: CallRecord, status: str, ended_reason: str) -> None:
        if record.status in v.IN_FLIGHT_STATUSES:
            self._count_in_flight(record.connection_code, -1)
        # The conversation ends in the same transition: no reader sees a terminal call with a
        # live conversation.
        if record.conversation is not None:
            self.conversations.finish(
                record.conversation, record.seq, record.phone_number, ended_reason
            )
        record.ended_reason = ended_reason
        record.next_due_wall = None
        self._set(record, status)
        self._free_slot(record)

    def force(self, record: CallRecord, outcome_name: str) -> None:
        """End a call now with a named outcome (admin tool); a no-op on a terminal call."""
        if record.status in v.TERMINAL_STATUSES:
            return
        outcome = v.OUTCOMES[outcome_name]
        if outcome.connects and record.conversation_id is None:
            self._connect(record)
        record.outcome = outcome_name
        self._finish(record, outcome.status, outcome.ended_reason)

    # -- introspection -----------------------------------------------------------------------
    def reset(self) -> None:
        self._heap.clear()
        self._waiting.clear()
        self.slots.reset()
        self.in_flight.clear()
        self.max_in_flight.clear()
        self.processed = 0
        self.max_lag_s = 0.0
        self.last_lag_s = 0.0

    def ticker_stats(self) -> dict[str, Any]:
        now = mono_now()
        overdue = max(0.0, now - self._heap[0][0]) if self._heap else 0.0
        return {
            "pending_transitions": len(self._heap),
            "processed": self.processed,
            "oldest_overdue_ms": round(overdue * 1000, 3),
            "last_lag_ms": round(self.last_lag_s * 1000, 3),
            "max_lag_ms": round(self.max_lag_s * 1000, 3),
            "keeping_up": overdue < 0.25,
        }
