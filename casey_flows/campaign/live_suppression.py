"""The do-not-call set while a campaign runs: re-read on a timer, checked just before each create.

A large campaign runs for hours or days. A number that opts out on another campaign meanwhile
(loaded by ``sync_calls`` into ``opt_outs``), or that someone adds to the do-not-call file or
table, must not be dialled. So every ``refresh_seconds`` every source is read again, whole (a
read is a snapshot), and the engine asks :meth:`LiveSuppression.before_dial` just before each
create. The promise: a number suppressed at least one refresh (plus the read itself) before its
turn is never dialled.

A refresh that fails pauses dialling (``before_dial`` waits) and is retried; once the set is
older than ``max_stale_seconds`` the run fails closed with ``SuppressionStale``: dialling
someone who said "no more calls" is worse than not dialling. No Prefect here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.suppression import SuppressionList
from casey_flows.exceptions import SuppressionStale

logger = logging.getLogger(__name__)

# Every source's numbers, normalised, each list named after where it came from.
SuppressionRead = Callable[[], Awaitable[list[SuppressionList]]]
# How long to wait between tries after a failed refresh, at most.
MAX_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class SuppressionHit:
    """Why a number is not dialled: the source that lists it, and when this run first saw it."""

    source: str
    seen_at: datetime

    def dial_time_reason(self) -> str:
        return (
            f"suppressed at dial time: on {self.source} (seen {self.seen_at:%Y-%m-%d %H:%M:%S} UTC)"
        )


class LiveSuppression:
    """The latest read of every suppression source; its repr shows counts, never numbers."""

    def __init__(
        self, read: SuppressionRead, *, refresh_seconds: float, max_stale_seconds: float
    ) -> None:
        self._read = read
        self.refresh_seconds = refresh_seconds
        self.max_stale_seconds = max_stale_seconds
        # Compact at a million numbers: E.164 digits as an int -> index of the sighting (one per
        # source per read that first listed them), not an object per number.
        self._hits: dict[int, int] = {}
        self._sightings: list[SuppressionHit] = []
        self._read_at: float | None = None
        self._healthy = asyncio.Event()
        self.rejected: list[str] = []  # entries of the latest read that are no number (masked)
        self.reads = 0
        self.last_read_seconds = 0.0

    async def refresh(self) -> None:
        """Read every source once and make it the set; raises whatever the read raised."""
        started = time.monotonic()
        lists = await self._read()
        now = datetime.now(timezone.utc)
        hits: dict[int, int] = {}
        for listed in lists:
            new_here: int | None = None  # this read's sighting for this source, made on need
            for number in listed:
                key = _key(number)
                if key in hits:
                    continue  # first source wins
                seen = self._hits.get(key)  # first sighting is kept
                if seen is None:
                    if new_here is None:
                        new_here = len(self._sightings)
                        self._sightings.append(SuppressionHit(listed.source, now))
                    seen = new_here
                hits[key] = seen
        rejected = [r.message for listed in lists for r in listed.rejected]
        if self.reads:  # the first read's are the caller's to report (the run's warnings)
            for message in sorted(set(rejected) - set(self.rejected)):
                logger.warning("suppression entry ignored (not a valid number): %s", message)
        self.rejected = rejected
        self._hits = hits
        self._read_at = time.monotonic()
        self.last_read_seconds = self._read_at - started
        self.reads += 1
        self._healthy.set()

    def check(self, phone_number: str) -> SuppressionHit | None:
        """The hit for an E.164 number, or None when it may be dialled."""
        seen = self._hits.get(_key(phone_number))
        return None if seen is None else self._sightings[seen]

    async def before_dial(self, contact: Contact) -> str | None:
        """Just before a create: the reason not to dial, or None. Waits while refreshing fails.

        Raises:
            SuppressionStale: the set is older than ``max_stale_seconds``.
        """
        while not self._healthy.is_set():
            self._raise_if_stale()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._healthy.wait(), timeout=1.0)
        self._raise_if_stale()
        hit = self.check(contact.phone_number)
        return hit.dial_time_reason() if hit else None

    @asynccontextmanager
    async def refreshing(self) -> AsyncIterator[None]:
        """Refresh in the background while the block runs."""
        task = asyncio.create_task(self._refresh_forever())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            delay = min(MAX_RETRY_SECONDS, self.refresh_seconds)
            while True:
                try:
                    await self.refresh()
                    break
                except Exception as exc:  # any source: pause, retry, fail closed when stale
                    self._healthy.clear()
                    logger.warning(
                        "re-reading the suppression list failed (%s); dialling paused, retrying "
                        "in %g s (the run fails once the list is %g s old)",
                        exc,
                        delay,
                        self.max_stale_seconds,
                    )
                    await asyncio.sleep(delay)

    def _raise_if_stale(self) -> None:
        age = time.monotonic() - (self._read_at or 0.0)
        if age > self.max_stale_seconds:
            raise SuppressionStale(
                f"the suppression list could not be re-read for {age:.0f} s (more than "
                f"max_stale_seconds, {self.max_stale_seconds:g} s): stopped dialling rather than "
                "call someone who may have opted out; fix the source and re-run with the same "
                "campaign_id (nobody is dialled twice)"
            )

    def __len__(self) -> int:
        return len(self._hits)


def _key(e164: str) -> int:
    """``+14155550123`` -> 14155550123: exact (E.164 has no leading zero), and a third the size."""
    return int(e164[1:])

    def __repr__(self) -> str:
        return f"LiveSuppression(numbers={len(self)}, reads={self.reads})"
