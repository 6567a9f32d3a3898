"""Time helpers: one place that turns wall-clock instants into the wire's ISO-8601 strings.

The lifecycle runs on the monotonic clock (immune to wall-clock jumps); timestamps shown to
clients and stored in SQLite use the wall clock. Keeping both here stops them being mixed up.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def wall_now() -> float:
    return time.time()


def mono_now() -> float:
    return time.monotonic()


def iso_from_epoch(epoch: float) -> str:
    """``2026-11-26T21:53:30.123456+00:00``: microseconds always shown, explicit UTC offset."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="microseconds")


def iso_now() -> str:
    return iso_from_epoch(time.time())


def parse_iso(value: str) -> float:
    """Epoch seconds of an ISO-8601 string; a naive value is taken as UTC. Raises ValueError."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def mono_from_wall(epoch: float) -> float:
    """The monotonic instant matching a wall-clock epoch (for deadlines given as timestamps)."""
    return time.monotonic() + (epoch - time.time())
