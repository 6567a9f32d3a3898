"""Slots for calls in flight: a local cap per campaign, optionally a Prefect global limit too
(Prefect is imported only by the global limit's gate, when used).

A slot is held from just before a create until the call ends, so "in flight" means what the
provider counts against its concurrent-call cap. The global limit (shared by every run using one
Casey account) is strict: a limit name that does not exist is an error, not a silent pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast
from uuid import UUID

import httpx

from casey_flows.exceptions import GlobalLimitMissing

if TYPE_CHECKING:  # imported when a global limit is used: the engine's SlotGate needs no Prefect
    from prefect.client.orchestration import PrefectClient

Release = Callable[[], Awaitable[None]]
logger = logging.getLogger(__name__)
# A slot's lease outlives a stalled run by at most this long; renewed every third of it.
LEASE_SECONDS = 300.0
LOCKED = 423


class SlotGate:
    """At most ``capacity`` slots held at once by this campaign run."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"max_concurrent_calls must be >= 1, got {capacity!r}")
        self.capacity = capacity
        self._free = asyncio.Semaphore(capacity)

    async def acquire(self) -> Release:
        await self._free.acquire()

        async def release() -> None:
            self._free.release()

        return release

    async def aclose(self) -> None:
        """Stop background work; slots still held are the caller's to give back."""


class GlobalLimitGate(SlotGate):
    """The local cap, then one slot of a Prefect global concurrency limit per call in flight.

    Talks to Prefect's lease API directly: one lease per call, taken before the create and given
    back when the call ends, and one background task that renews every lease still held (a call
    may outlive a lease). Prefect's ``concurrency`` context manager would start a renewal thread
    per call and cancel the caller when a renewal fails; a campaign holds slots across tasks.
    """

    def __init__(self, capacity: int, limit_name: str) -> None:
        super().__init__(capacity)
        self.limit_name = limit_name
        self._leases: set[UUID] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def acquire(self) -> Release:
        release_local = await super().acquire()
        try:
            lease_id = await self._take_slot()
        except BaseException:
            await release_local()
            raise
        self._leases.add(lease_id)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_while_held())

        async def release() -> None:
            self._leases.discard(lease_id)
            try:
                await self._give_back(lease_id)
            finally:
                await release_local()

        return release

    async def aclose(self) -> None:
        """Stop renewing. Leases still held (a failed run's live calls) expire on their own."""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
            self._renewer = None

    async def _take_slot(self) -> UUID:
        client = _run_client()
        while True:
            try:
                response = await client.increment_concurrency_slots_with_lease(
                    names=[self.limit_name],
                    slots=1,
                    mode="concurrency",
                    lease_duration=LEASE_SECONDS,
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != LOCKED:
                    raise
                await asyncio.sleep(float(exc.response.headers.get("Retry-After", 1.0)))
                continue
            body = response.json()
            if not body.get("limits"):
                raise GlobalLimitMissing(
                    f"global concurrency limit {self.limit_name!r} does not exist: create it "
                    f"(prefect gcl create {self.limit_name} --limit N) or leave "
                    "global_concurrency_limit empty"
                )
            return UUID(str(body["lease_id"]))

    async def _give_back(self, lease_id: UUID) -> None:
        try:
            await _run_client().release_concurrency_slots_with_lease(lease_id=lease_id)
        except Exception as exc:  # the lease expires on its own; never fail a campaign here
            logger.warning("could not give back a %r slot: %s", self.limit_name, exc)

    async def _renew_while_held(self) -> None:
        while self._leases:
            await asyncio.sleep(LEASE_SECONDS / 3)
            client = _run_client()
            for lease_id in list(self._leases):
                try:
                    await client.renew_concurrency_lease(
                        lease_id=lease_id, lease_duration=LEASE_SECONDS
                    )
                except Exception as exc:
                    logger.warning("could not renew a %r slot: %s", self.limit_name, exc)


def _run_client() -> PrefectClient:
    """The task run's own Prefect client, open for the whole run.

    Not ``async with get_client()``: inside a run that returns this same shared client, and
    exiting it from one coroutine while another is mid-request stalled the campaign.
    """
    from prefect.context import get_run_context

    # Typed as either client; an async run (every campaign task) holds the async one.
    return cast("PrefectClient", get_run_context().client)
