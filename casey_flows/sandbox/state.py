"""The sandbox's runtime state in one object: store, engine, limits, faults, stats, SQLite.

The FastAPI app, the gate middleware and the admin routes all reach the same instance via
``app.state.sandbox``; everything mutates it from the event loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.clock import iso_now, mono_now, wall_now
from casey_flows.sandbox.config import SandboxConfig
from casey_flows.sandbox.conversations import Conversations
from casey_flows.sandbox.faults import FaultInjector
from casey_flows.sandbox.lifecycle import LifecycleEngine
from casey_flows.sandbox.limits import TokenBucket
from casey_flows.sandbox.stats import SandboxStats
from casey_flows.sandbox.store import CallRecord, CallStore, SqliteMirror
from casey_flows.sandbox.validation import CreateCallInput


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = CallStore(config.connections, config.list_lag_seconds)
        self.mirror = SqliteMirror(config.db_path) if config.db_path else None
        self.conversations = Conversations(config.seed, config.connections)
        self.engine = LifecycleEngine(
            config, self.store, self.conversations, on_change=self._changed
        )
        self.limiter = TokenBucket(config.effective_rate_limit, config.rate_limit_burst)
        self.faults = FaultInjector(config.faults.model_copy(deep=True), config.seed)
        self.stats = SandboxStats()
        self.resumed_calls = 0
        self._flusher: asyncio.Task[None] | None = None

    def _changed(self, record: CallRecord) -> None:
        if self.mirror is not None:
            self.mirror.mark(record)

    # -- lifespan ----------------------------------------------------------------------------
    async def startup(self) -> None:
        if self.mirror is not None:
            for record in self.mirror.load():
                self.store.add(record)
                if record.status not in v.TERMINAL_STATUSES:
                    self.engine.resume(record)
                    self.resumed_calls += 1
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())
        self.engine.start()

    async def shutdown(self) -> None:
        await self.engine.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self.mirror is not None:
            self.mirror.close()

    async def _flush_forever(self) -> None:
        assert self.mirror is not None
        while True:
            await asyncio.sleep(self.config.db_flush_interval_s)
            self.mirror.flush()

    # -- operations --------------------------------------------------------------------------
    def create_call(
        self, connection_code: str, data: CreateCallInput, idempotency_key: str | None
    ) -> CallRecord:
        now_iso = iso_now()
        scheduled = data.earliest_at is not None and data.earliest_at > wall_now()
        dispatch_key = None
        if data.context is not None:
            raw = data.context.get("dispatch_key")
            dispatch_key = raw if isinstance(raw, str) else None
        record = CallRecord(
            id=str(uuid.uuid4()),
            seq=self.store.next_seq,
            connection_code=connection_code,
            name=data.name,
            phone_number=data.phone_number,
            participant_id=data.participant_id,
            context=data.context,
            schedule_plan=data.schedule_plan,
            status=v.SCHEDULED if scheduled else v.QUEUED,
            created_at=now_iso,
            updated_at=now_iso,
            idempotency_key=idempotency_key,
            dispatch_key=dispatch_key,
            earliest_at=data.earliest_at,
            latest_at=data.latest_at,
            accepted_mono=mono_now(),
        )
        self.engine.plan(record)
        self.store.add(record)
        self.engine.admit(record)
        self._changed(record)
        self.stats.count_create(record.phone_number, dispatch_key, idempotency_key)
        return record

    def forget_conversation(self, conversation_id: str) -> bool:
        """Drop a conversation (its routes answer 404); its call keeps the conversation_id."""
        record = self.store.conversations.pop(conversation_id)
        if record is None:
            return False
        self._changed(record)
        return True

    def reset(self) -> None:
        self.store.clear()
        self.conversations.reset()
        self.engine.reset()
        self.limiter.reset()
        self.stats.reset()
        self.faults.reset_counts()
        if self.mirror is not None:
            self.mirror.clear()

    def snapshot(self) -> dict[str, Any]:
        in_flight: dict[str, int] = {code: 0 for code in self.store.connections}
        queued: dict[str, int] = {code: 0 for code in self.store.connections}
        live = 0
        for record in self.store.calls.values():
            if record.status in v.IN_FLIGHT_STATUSES:
                in_flight[record.connection_code] = in_flight.get(record.connection_code, 0) + 1
            elif record.status == v.QUEUED:
                queued[record.connection_code] = queued.get(record.connection_code, 0) + 1
            if record.status not in v.TERMINAL_STATUSES:
                live += 1
        out = self.stats.snapshot()
        out.update(
            {
                "calls_total": len(self.store.calls),
                "live_calls": live,
                "calls_by_status": {s: n for s, n in self.store.status_counts.items() if n > 0},
                "in_flight_by_connection": in_flight,
                "queued_by_connection": queued,
                "max_in_flight_by_connection": dict(self.engine.max_in_flight),
                "concurrency_cap": self.engine.slots.cap,
                "faults_injected": dict(self.faults.injected),
                "list_lag": {
                    "seconds": self.store.list_lag_s,
                    "hidden_by_connection": {
                        code: self.store.hidden_count(code) for code in self.store.connections
                    },
                },
                "ticker": self.engine.ticker_stats(),
                "persistence": None
                if self.mirror is None
                else {
                    "path": self.mirror.path,
                    "pending_rows": self.mirror.pending,
                    "rows_written": self.mirror.rows_written,
                    "flushes": self.mirror.flushes,
                    "resumed_calls": self.resumed_calls,
                },
            }
        )
        return out
