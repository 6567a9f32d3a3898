"""Client-side request pacing: stay under a provider's rate limit instead of bouncing off it.

A token bucket in front of the transport paces every request the client sends, retries
included, so one number (requests per second) bounds a whole campaign's traffic.
"""

from __future__ import annotations

import asyncio
import time

import httpx


class AsyncTokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``acquire`` waits for one."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class PacedTransport(httpx.AsyncBaseTransport):
    """Waits for a token before handing each request to the wrapped transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport, bucket: AsyncTokenBucket) -> None:
        self._inner = inner
        self._bucket = bucket

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._bucket.acquire()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
