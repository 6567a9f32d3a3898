"""Slots for calls in flight: a local cap per campaign, optionally a Prefect global limit too.

A slot is held from just before a create until the call ends, so "in flight" means what the
provider counts against its concurrent-call cap. The global limit (shared by every run using one
Casey account) is strict: a limit name that does not exist is an error, not a silent pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Release = Callable[[], Awaitable[None]]


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


class GlobalLimitGate(SlotGate):
    """The local cap, then one slot of a Prefect global concurrency limit per call.

    Prefect's ``concurrency`` context manager renews its lease while held, so each held slot is
    a small coroutine that enters it and waits to be told the call has ended.
    """

    def __init__(self, capacity: int, limit_name: str) -> None:
        super().__init__(capacity)
        self.limit_name = limit_name
        self._holders: set[asyncio.Task[None]] = set()

    async def acquire(self) -> Release:
        from prefect.concurrency.asyncio import concurrency

        release_local = await super().acquire()
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done = asyncio.Event()

        async def hold() -> None:
            try:
                async with concurrency(self.limit_name, occupy=1, strict=True):
                    granted.set_result(None)
                    await done.wait()
            except Exception as exc:
                if granted.done():
                    raise
                granted.set_exception(exc)  # the caller re-raises it

        holder = asyncio.create_task(hold())
        self._holders.add(holder)
        holder.add_done_callback(self._holders.discard)
        try:
            await granted
        except BaseException:
            await release_local()
            raise

        async def release() -> None:
            done.set()
            await holder
            await release_local()

        return release
