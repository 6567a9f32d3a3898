"""The one retry policy of the client: what is retried, how long to wait, when to give up.

GETs are retried on connection failures, timeouts, 429 and 5xx. A create is retried only when
the request surely did not reach Casey (connection refused before sending, 429); anything after
that is ambiguous and goes back to the caller, since a second POST may dial a person twice.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum

import httpx

from casey_flows.client._constants import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DEFAULT_BACKOFF_CAP_SECONDS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER_SECONDS,
    DEFAULT_MAX_RETRY_SECONDS,
)


class Attempt(Enum):
    """What one attempt's failure means for whether the request may have taken effect."""

    NOT_SENT = "not_sent"  # never reached the server (refused, DNS, pool timeout)
    REFUSED = "refused"  # the server answered that it did nothing (429)
    AMBIGUOUS = "ambiguous"  # may have taken effect (timeout after sending, dropped, 5xx)


# Failures raised before any byte of the request left this machine.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def classify_transport_error(exc: httpx.TransportError) -> Attempt:
    """Connect failures never sent the request; read/write failures may have."""
    return Attempt.NOT_SENT if isinstance(exc, _NOT_SENT_ERRORS) else Attempt.AMBIGUOUS


def classify_status(status_code: int) -> Attempt | None:
    """429 is a refusal, 5xx is ambiguous; other statuses are final answers (None)."""
    if status_code == 429:
        return Attempt.REFUSED
    if status_code >= 500:
        return Attempt.AMBIGUOUS
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None if absent or odd."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded by attempts and by total time; capped exponential backoff with full jitter."""

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_cap: float = DEFAULT_BACKOFF_CAP_SECONDS
    max_total_seconds: float = DEFAULT_MAX_RETRY_SECONDS
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_SECONDS

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**n)] (spreads retrying clients apart)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2**retry_number))
        return (rng or random).uniform(0, ceiling)

    def start(self) -> RetryBudget:
        """A fresh budget for one logical request."""
        return RetryBudget(self)


@dataclass
class RetryBudget:
    """Tracks one request's retries against the policy's attempt and wall-clock limits."""

    policy: RetryPolicy
    retries: int = 0
    started: float = field(default_factory=time.monotonic)

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent.

        A server's Retry-After wins over our backoff (it knows its own limits) but is capped;
        if waiting it out would pass the total time limit we give up now rather than later.
        """
        if self.retries >= self.policy.max_retries:
            return None
        if retry_after is not None:
            delay = min(retry_after, self.policy.max_retry_after)
        else:
            delay = self.policy.backoff(self.retries)
        elapsed = time.monotonic() - self.started
        if elapsed + delay > self.policy.max_total_seconds:
            return None
        self.retries += 1
        return delay
