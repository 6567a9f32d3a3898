"""Which open calls a poll may leave unread: those younger than hardly any call ever ended.

A list sweep reads the newest calls first, and the newest are the calls just dialled: at a
campaign's pace they fill most of the first page, though almost none of them can have ended
yet, and the older calls that are ending spill onto a second page. :class:`CallAges` learns from
the calls seen end how young a call can end (the age at which each was last seen still open,
on our clock against the API's ``created_at``: a constant offset between the clocks is in every
age alike), so a sweep can start below the calls younger than that, on one page.

It errs towards reading: a call that ended before any poll saw it open counts as ending at any
age (no call is left unread while such calls are more than a few), a call is read from about a
poll's gap before the age at which the youngest calls ended, and none is left unread longer
than ``max_skip_seconds`` after its create.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime

from casey_flows.client import Call

# Ended calls remembered (the newest), and how many before any call is left unread.
SAMPLES_KEPT = 128
SAMPLES_NEEDED = 20
# A call younger than the age at which this share of the calls seen end was last seen open
# may be left unread.
YOUNG_SHARE = 0.02


class CallAges:
    """The ages at which calls seen end were last seen open; the age below which calls may be
    left unread (:meth:`young_age`).

    Args:
        margin_seconds: how much younger than the youngest ends a call stops being left unread:
            about a poll's gap, so each call is read open at least once before calls of its
            age begin to end (one first read ended would count as ending at any age).
        max_skip_seconds: the most a call is left unread after its create.
    """

    def __init__(self, margin_seconds: float, max_skip_seconds: float) -> None:
        self.margin_seconds = margin_seconds
        self.max_skip_seconds = max_skip_seconds
        self._last_open: deque[float] = deque(maxlen=SAMPLES_KEPT)
        self._young: float | None = None
        # Each open call's age when a poll last saw it open (absent: never seen open).
        self._open_age: dict[str, float] = {}

    def seen(self, open_calls: Iterable[Call], ended: Iterable[Call], read_at: float) -> None:
        """A poll that sent its first request at ``read_at`` (epoch seconds) saw
        ``open_calls`` still open and ``ended`` ended."""
        learned = False
        for call in ended:
            # Never seen open: it may have ended at any age, the youngest included.
            self._last_open.append(self._open_age.pop(call.id, float("-inf")))
            learned = True
        for call in open_calls:
            created = _epoch(call.created_at)
            if created is not None:
                self._open_age[call.id] = read_at - created
        if learned and len(self._last_open) >= SAMPLES_NEEDED:
            ages = sorted(self._last_open)
            self._young = ages[int(YOUNG_SHARE * len(ages))]

    def forget(self, keep: Mapping[str, object]) -> None:
        """Drop what is known of calls no longer watched."""
        if len(self._open_age) > len(keep):
            self._open_age = {k: v for k, v in self._open_age.items() if k in keep}

    def young_age(self) -> float | None:
        """Calls younger than this (our clock minus ``created_at``) may be left unread; None:
        read every call."""
        if self._young is None or self._young - self.margin_seconds <= 0:
            return None
        return min(self._young - self.margin_seconds, self.max_skip_seconds)


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None
