"""Counters the admin ``/_sandbox/stats`` endpoint reports, so tests can assert on what the
sandbox actually saw (e.g. that no phone number was dialled twice) instead of trusting the client.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class SandboxStats:
    """Request and create counters for ``/v1/backend`` traffic; admin traffic is not counted."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.creates_total = 0
        self.calls_by_phone: Counter[str] = Counter()
        self.calls_by_dispatch_key: Counter[str] = Counter()
        self.calls_by_idempotency_key: Counter[str] = Counter()
        self.rate_limited_429 = 0  # the real token bucket
        self.synthetic_429 = 0  # injected faults

    def count_request(self, route: str, status: int | str) -> None:
        self.requests[route][str(status)] += 1

    def count_create(
        self, phone_number: str, dispatch_key: str | None, idempotency_key: str | None
    ) -> None:
        self.creates_total += 1
        self.calls_by_phone[phone_number] += 1
        if dispatch_key is not None:
            self.calls_by_dispatch_key[dispatch_key] += 1
        if idempotency_key is not None:
            self.calls_by_idempotency_key[idempotency_key] += 1

    def snapshot(self) -> dict[str, Any]:
        def dupes(counter: Counter[str]) -> dict[str, int]:
            return {k: n for k, n in counter.items() if n > 1}

        return {
            "requests": {route: dict(codes) for route, codes in self.requests.items()},
            "requests_total": sum(sum(c.values()) for c in self.requests.values()),
            "creates_total": self.creates_total,
            "calls_by_phone": dict(self.calls_by_phone),
            "calls_by_dispatch_key": dict(self.calls_by_dispatch_key),
            "calls_by_idempotency_key": dict(self.calls_by_idempotency_key),
            "duplicates": {
                "phone_numbers": dupes(self.calls_by_phone),
                "dispatch_keys": dupes(self.calls_by_dispatch_key),
                "idempotency_keys": dupes(self.calls_by_idempotency_key),
            },
            "responses_429": {
                "total": self.rate_limited_429 + self.synthetic_429,
                "rate_limited": self.rate_limited_429,
                "synthetic": self.synthetic_429,
            },
        }
