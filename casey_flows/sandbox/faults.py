"""Fault injection for ``/v1/backend`` routes: 5xx, latency, synthetic 429s and the two
ambiguous create faults (created but answered 500; created but the connection drops).

One seeded RNG, consulted in a fixed order per request, so a seeded run injects the same faults
for the same request sequence. ``next_*`` counters win over rates: tests use them to get exactly
one fault where they want it.
"""

from __future__ import annotations

import random
from collections import Counter

from casey_flows.sandbox.config import FaultSettings

AMBIGUOUS_5XX = "ambiguous_5xx"
AMBIGUOUS_DROP = "ambiguous_drop"


class ConnectionDropFault(Exception):
    """Raised after the response head is sent so the server closes the connection mid-body."""


class FaultInjector:
    """Decides, per request, which fault (if any) to inject, and counts what it injected."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._rng = random.Random(seed ^ 0x5EED)
        self.injected: Counter[str] = Counter()

    def replace(self, settings: FaultSettings) -> None:
        self.settings = settings

    def latency_s(self) -> float:
        window = self.settings.latency_ms
        if window is None or window[1] <= 0:
            return 0.0
        self.injected["latency"] += 1
        return self._rng.uniform(window[0], window[1]) / 1000.0

    def take_5xx(self) -> int | None:
        """The status of an up-front 5xx to send now, or None."""
        return self.settings.error_5xx_status if self._take("5xx", "error_5xx_rate") else None

    def take_429(self) -> bool:
        return self._take("429", "rate_429")

    def take_lost_create(self) -> bool:
        """A create answered 500 without creating anything: to the client, as ambiguous as a
        committed one; only the call list can tell them apart."""
        return self._take("lost_create", "lost_create_rate")

    def _take(self, kind: str, rate_field: str) -> bool:
        """One fault of ``kind``: a queued one (``next_<kind>``) first, else by its rate."""
        s = self.settings
        queued = f"next_{kind}"
        if getattr(s, queued) > 0:
            setattr(s, queued, getattr(s, queued) - 1)
        else:
            rate = getattr(s, rate_field)
            if not (rate and self._rng.random() < rate):
                return False
        self.injected[kind] += 1
        return True

    def take_ambiguous(self) -> str | None:
        """For a create that succeeded: None, ``AMBIGUOUS_5XX`` or ``AMBIGUOUS_DROP``."""
        s = self.settings
        kind: str | None = None
        if s.next_ambiguous_drop > 0:
            s.next_ambiguous_drop -= 1
            kind = AMBIGUOUS_DROP
        elif s.next_ambiguous_5xx > 0:
            s.next_ambiguous_5xx -= 1
            kind = AMBIGUOUS_5XX
        elif s.ambiguous_drop_rate or s.ambiguous_5xx_rate:
            u = self._rng.random()
            if u < s.ambiguous_drop_rate:
                kind = AMBIGUOUS_DROP
            elif u < s.ambiguous_drop_rate + s.ambiguous_5xx_rate:
                kind = AMBIGUOUS_5XX
        if kind is not None:
            self.injected[kind] += 1
        return kind

    def reset_counts(self) -> None:
        self.injected.clear()
