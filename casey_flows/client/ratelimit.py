"""Client-side request pacing: stay under a provider's rate limit instead of bouncing off it.

A token bucket in front of the transport paces every request the client sends, retries
included, so one number (requests per second) bounds a whole campaign's traffic. The same
bucket serves the blocking and the async client; only how they wait differs.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; each request takes one."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._async_lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    def _take(self) -> float:
        """Take a token if one is there (0.0), else the seconds until one will be."""
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        """Wait (without blocking the event loop) for a token; first come, first served."""
        async with self._async_lock:
            while (wait := self._take()) > 0:
                await asyncio.sleep(wait)

    def acquire_blocking(self) -> None:
        """Wait (blocking this thread) for a token; first come, first served."""
        with self._thread_lock:
            while (wait := self._take()) > 0:
                time.sleep(wait)


class PacedTransport(httpx.AsyncBaseTransport):
    """Waits for a token before handing each request to the wrapped async transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport, bucket: TokenBucket) -> None:
        self._inner = inner
        self._bucket = bucket

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._bucket.acquire()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class PacedSyncTransport(httpx.BaseTransport):
    """Waits for a token before handing each request to the wrapped blocking transport."""

    def __init__(self, inner: httpx.BaseTransport, bucket: TokenBucket) -> None:
        self._inner = inner
        self._bucket = bucket

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._bucket.acquire_blocking()
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
