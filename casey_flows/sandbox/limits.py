"""Provider limits: a token bucket per API key (request rate) and dial slots per connection
(concurrent calls). Both are plain counters driven by the event loop thread: no locks needed.
"""

from __future__ import annotations

import math
import time


class TokenBucket:
    """Per-key token buckets: ``rate`` tokens/s refill, ``burst`` capacity. ``rate=None`` = off."""

    def __init__(self, rate: float | None, burst: int | None) -> None:
        self.rate = rate or None
        self.burst = float(burst) if burst else max(1.0, 2.0 * (self.rate or 0.0))
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0.0 when allowed, else the seconds until a token is due."""
        if self.rate is None:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def reset(self) -> None:
        self._buckets.clear()


def retry_after_header(seconds: float) -> str:
    """Integer seconds, rounded up and at least 1, as RFC 9110 ``delay-seconds`` requires."""
    return str(max(1, math.ceil(seconds)))


class DialSlots:
    """Concurrent-call slots per connection. A slot is held from the moment a call is chosen to
    dial until it ends, so calls admitted at the same instant can never overshoot the cap.
    """

    def __init__(self, cap: int | None) -> None:
        self.cap = cap or None
        self.used: dict[str, int] = {}

    def try_take(self, connection_code: str) -> bool:
        used = self.used.get(connection_code, 0)
        if self.cap is not None and used >= self.cap:
            return False
        self.used[connection_code] = used + 1
        return True

    def give_back(self, connection_code: str) -> None:
        self.used[connection_code] = max(0, self.used.get(connection_code, 0) - 1)

    def reset(self) -> None:
        self.used.clear()
