"""The sandbox's state: connections (seeded, read-only), calls and the conversations inside
them, in memory, optionally mirrored to SQLite so calls and conversations survive a restart.

Memory is the source of truth on the hot path; SQLite is write-behind (dirty calls flushed in one
``executemany`` every ``db_flush_interval_s``), so a create costs a dict insert, not a disk sync.
A crash (not a clean stop) can lose the last flush interval of changes; a clean stop flushes.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from casey_flows.sandbox.clock import mono_now
from casey_flows.sandbox.config import ConnectionSpec
from casey_flows.sandbox.conversations import ConversationRecord
from casey_flows.sandbox.vocabulary import DIRECTION_OUTBOUND, PHONE_CALL_PROVIDER


@dataclass(slots=True)
class CallRecord:
    """One call: the wire fields plus the engine's private plan (never sent to clients)."""

    id: str
    seq: int
    connection_code: str
    name: str | None
    phone_number: str
    participant_id: str | None
    context: dict[str, Any] | None
    schedule_plan: Any
    status: str
    created_at: str
    updated_at: str
    conversation_id: str | None = None
    ended_reason: str | None = None
    # Not part of the call object: served by the conversation routes. None before the call is
    # answered, and after the conversation was forgotten (conversation_id stays).
    conversation: ConversationRecord | None = None
    # -- private: who asked, and how the call will go ------------------------------------------
    idempotency_key: str | None = None
    dispatch_key: str | None = None
    outcome: str = "completed"
    ring_s: float = 0.0
    talk_s: float = 0.0
    earliest_at: float | None = None  # wall epoch
    latest_at: float | None = None  # wall epoch
    next_due_wall: float | None = None  # wall epoch of the pending transition (for resume)
    due_speed: float = 0.0  # speed it was scheduled at; 0 = an absolute time (schedule_plan)
    version: int = 0
    slot_held: bool = False
    # monotonic instant the create was accepted, for the list lag; None = always listed (a call
    # restored from SQLite: another process's monotonic clock means nothing here)
    accepted_mono: float | None = None
    _wire: dict[str, Any] | None = field(default=None, repr=False)

    def wire(self) -> dict[str, Any]:
        """The call as the API shows it; cached until the next change."""
        if self._wire is None:
            self._wire = {
                "id": self.id,
                "direction": DIRECTION_OUTBOUND,
                "connection_code": self.connection_code,
                "name": self.name,
                "phone_number": self.phone_number,
                "phone_call_provider": PHONE_CALL_PROVIDER,
                "conversation_id": self.conversation_id,
                "status": self.status,
                "ended_reason": self.ended_reason,
                "context": self.context,
                "schedule_plan": self.schedule_plan,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
            }
        return self._wire

    def touched(self) -> None:
        self._wire = None
        self.version += 1

    def to_row(self) -> tuple[str, int, str]:
        data = _without_process_fields(asdict(self))
        return (self.id, self.seq, json.dumps(data, separators=(",", ":")))

    @classmethod
    def from_row(cls, blob: str) -> CallRecord:
        data = _without_process_fields(json.loads(blob))
        conversation = data.get("conversation")
        if conversation is not None:
            data["conversation"] = ConversationRecord(**conversation)
        return cls(**data)


# Fields that only mean something inside the process that set them: never written to SQLite,
# and dropped when read back, so a restored call gets their defaults.
_PROCESS_FIELDS = ("_wire", "accepted_mono")


def _without_process_fields(data: dict[str, Any]) -> dict[str, Any]:
    for name in _PROCESS_FIELDS:
        data.pop(name, None)
    return data


ConversationKey = tuple[str, str]  # (started_at, id): the listing order, oldest first


class ConversationPage(NamedTuple):
    items: list[ConversationRecord]  # newest first
    more_newer: bool
    more_older: bool


class ConversationIndex:
    """Conversations by id, and their keys in order for ``GET /conversations``' cursor pages.

    It maps to the calls (a conversation lives in its call's record) so that forgetting one
    clears it there too. Cursors carry keys, not positions: a cursor stays valid after its
    conversation is forgotten, and a page costs O(limit) without a status filter.
    """

    def __init__(self) -> None:
        self._calls: dict[str, CallRecord] = {}
        self._keys: list[ConversationKey] = []

    def clear(self) -> None:
        self._calls.clear()
        self._keys.clear()

    def add(self, record: CallRecord) -> None:
        conversation = record.conversation
        assert conversation is not None
        self._calls[conversation.id] = record
        insort(self._keys, (conversation.started_at, conversation.id))

    def get(self, conversation_id: str) -> ConversationRecord | None:
        record = self._calls.get(conversation_id)
        return None if record is None else record.conversation

    def pop(self, conversation_id: str) -> CallRecord | None:
        """Forget a conversation; returns its call (which keeps its conversation_id)."""
        record = self._calls.pop(conversation_id, None)
        if record is None:
            return None
        conversation = record.conversation
        assert conversation is not None
        del self._keys[bisect_left(self._keys, (conversation.started_at, conversation.id))]
        record.conversation = None
        return record

    def page(
        self,
        limit: int,
        after: ConversationKey | None,
        before: ConversationKey | None,
        status: str | None,
    ) -> ConversationPage:
        """Newest first: the ``limit`` conversations just older than ``after`` (from the newest
        without a cursor), or just newer than ``before``; ``status`` is an exact match."""
        keys = self._keys
        if before is not None:
            newer = self._matching(bisect_right(keys, before), +1, status)
            found = list(islice(newer, limit))[::-1]
            more_newer = next(newer, None) is not None
            more_older = bool(found) and self._any(found[-1] - 1, -1, status)
        else:
            start = len(keys) - 1 if after is None else bisect_left(keys, after) - 1
            older = self._matching(start, -1, status)
            found = list(islice(older, limit))
            more_older = next(older, None) is not None
            more_newer = bool(found) and self._any(found[0] + 1, +1, status)
        return ConversationPage([self._at(i) for i in found], more_newer, more_older)

    def _at(self, index: int) -> ConversationRecord:
        conversation = self._calls[self._keys[index][1]].conversation
        assert conversation is not None
        return conversation

    def _matching(self, start: int, step: int, status: str | None) -> Iterator[int]:
        index = start
        while 0 <= index < len(self._keys):
            if status is None or self._at(index).status == status:
                yield index
            index += step

    def _any(self, start: int, step: int, status: str | None) -> bool:
        return next(self._matching(start, step, status), None) is not None


class CallStore:
    """Calls by id and, per connection, in creation order (lists read newest first).

    ``list_lag_s`` hides calls from ``page`` (not from ``get``) until that many real seconds
    after their create was accepted, like a list served from a lagging replica.
    """

    def __init__(self, connections: list[ConnectionSpec], list_lag_s: float = 0.0) -> None:
        self.connections: dict[str, ConnectionSpec] = {c.connection_code: c for c in connections}
        self.list_lag_s = list_lag_s
        self.calls: dict[str, CallRecord] = {}
        self.by_connection: dict[str, list[CallRecord]] = {c: [] for c in self.connections}
        self.status_counts: dict[str, int] = {}
        self.conversations = ConversationIndex()
        self.next_seq = 1

    def clear(self) -> None:
        self.calls.clear()
        self.conversations.clear()
        for bucket in self.by_connection.values():
            bucket.clear()
        self.status_counts.clear()
        self.next_seq = 1

    def add(self, record: CallRecord) -> None:
        self.calls[record.id] = record
        self.by_connection.setdefault(record.connection_code, []).append(record)
        self.status_counts[record.status] = self.status_counts.get(record.status, 0) + 1
        self.next_seq = max(self.next_seq, record.seq + 1)
        if record.conversation is not None:  # restored from SQLite
            self.conversations.add(record)

    def attach_conversation(self, record: CallRecord, conversation: ConversationRecord) -> None:
        """The call was answered: from now on it shows its conversation's id."""
        record.conversation_id = conversation.id
        record.conversation = conversation
        self.conversations.add(record)

    def set_status(self, record: CallRecord, status: str) -> None:
        """The only way a status changes, so the per-status counts stay exact."""
        self.status_counts[record.status] -= 1
        self.status_counts[status] = self.status_counts.get(status, 0) + 1
        record.status = status

    def get(self, connection_code: str, call_id: str) -> CallRecord | None:
        record = self.calls.get(call_id)
        if record is None or record.connection_code != connection_code:
            return None
        return record

    def hidden_count(self, connection_code: str) -> int:
        """How many of the connection's newest calls the list does not show yet.

        Accepted instants rise along the creation-ordered bucket, so the hidden calls are a
        suffix of it: walking back from the newest costs O(hidden), not O(all calls).
        """
        if self.list_lag_s <= 0:
            return 0
        bucket = self.by_connection.get(connection_code, [])
        cutoff = mono_now() - self.list_lag_s
        hidden = 0
        for record in reversed(bucket):
            if record.accepted_mono is None or record.accepted_mono <= cutoff:
                break
            hidden += 1
        return hidden

    def page(
        self, connection_code: str, limit: int, offset: int, status: str | None
    ) -> list[CallRecord]:
        """Newest first over the listed calls; ``offset`` and ``status`` (an exact match, like
        the documented free-text filter) apply to those only, as on a lagging replica."""
        bucket = self.by_connection.get(connection_code, [])
        hidden = self.hidden_count(connection_code)
        if status is None:
            end = len(bucket) - hidden - offset
            start = max(end - limit, 0)
            return bucket[start:end][::-1] if end > 0 else []
        out: list[CallRecord] = []
        skipped = 0
        for record in islice(reversed(bucket), hidden, None):
            if record.status != status:
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out


class SqliteMirror:
    """Write-behind SQLite copy of the calls: WAL mode, batched upserts, one table."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS calls (id TEXT PRIMARY KEY, seq INTEGER, data TEXT)"
        )
        self._dirty: dict[str, CallRecord] = {}
        self.rows_written = 0
        self.flushes = 0

    def load(self) -> list[CallRecord]:
        rows = self._db.execute("SELECT data FROM calls ORDER BY seq").fetchall()
        return [CallRecord.from_row(row[0]) for row in rows]

    def mark(self, record: CallRecord) -> None:
        self._dirty[record.id] = record

    @property
    def pending(self) -> int:
        return len(self._dirty)

    def flush(self) -> int:
        if not self._dirty:
            return 0
        rows = [r.to_row() for r in self._dirty.values()]
        self._dirty.clear()
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO calls (id, seq, data) VALUES (?, ?, ?)", rows)
        self._db.execute("COMMIT")
        self.rows_written += len(rows)
        self.flushes += 1
        return len(rows)

    def clear(self) -> None:
        self._dirty.clear()
        self._db.execute("DELETE FROM calls")

    def close(self) -> None:
        self.flush()
        self._db.close()
