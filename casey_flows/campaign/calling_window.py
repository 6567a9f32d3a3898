"""Calling hours, judged by the wall clock in each contact's own time zone.

Decisions (each one deliberate; tests pin them down):

- A window is open when the contact's *local wall clock* reads ``start <= t < end`` on one of
  ``days`` (Monday = 0). Everything else follows from that one rule, including DST:
  - spring forward (e.g. 02:00-03:00 does not exist in New York on 2026-03-08): a window that
    starts inside the gap opens at the first instant whose wall clock is past the start, i.e.
    at the transition itself (03:00 EDT for a 02:30 start);
  - fall back (01:00-02:00 happens twice on 2026-11-01): a wall-clock time inside the repeated
    hour is in the window both times, so a window can close and reopen the same night.
- ``start < end`` is required. Windows that cross midnight are rejected rather than guessed at:
  which weekday would "Friday 22:00-02:00" belong to? Use two windows if you need one.
- ``timezone`` (the zone for contacts who have none) defaults to ``"UTC"``: predictable and
  never a silent guess about where a contact lives. Campaigns should set it explicitly.
- Zone names must be IANA keys known to ``zoneinfo``; the match is case-insensitive and the
  canonical spelling is stored (``america/new_york`` -> ``America/New_York``).

Only the standard library's ``zoneinfo`` is used (``tzdata`` ships with Prefect). No Prefect here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_LOOKUP = {name: i for i, name in enumerate(_DAY_NAMES)} | {
    name[:3]: i for i, name in enumerate(_DAY_NAMES)
}
# Keys present in some zoneinfo directories that are not places a person lives in.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
# Transitions are months apart in every real zone; probing a day at this step cannot miss one.
_PROBE_STEP = timedelta(hours=6)
# Long enough to pass a whole week even when a zone skips a calendar day (Pacific/Apia, 2011).
_HORIZON_DAYS = 16


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    # available_timezones() walks the disk, so do it once per process.
    return {name.lower(): name for name in available_timezones() if name not in _NOT_ZONES}


def canonical_timezone(name: str) -> str:
    """Return the canonical IANA spelling of ``name`` or raise ``ValueError``.

    Shared by contacts and windows so a zone accepted in one is accepted in the other.
    """
    key = name.strip().lower() if isinstance(name, str) else ""
    canonical = _zone_names().get(key)
    if canonical is None:
        raise ValueError(f"unknown time zone {str(name)[:40]!r}: expected an IANA name")
    return canonical


def _weekday(value: Any) -> int:
    if isinstance(value, bool):  # bool is an int; True must not mean Tuesday
        raise ValueError(f"not a weekday: {value!r}")
    if isinstance(value, int):
        if 0 <= value <= 6:
            return value
        raise ValueError(f"weekday numbers run 0 (Monday) to 6 (Sunday), got {value}")
    if isinstance(value, str) and value.strip().lower() in _DAY_LOOKUP:
        return _DAY_LOOKUP[value.strip().lower()]
    raise ValueError(f"not a weekday: {str(value)[:20]!r} (use 'mon'..'sun' or 0..6)")


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware; a naive datetime has no instant")


def _wall_instants(zone: ZoneInfo, day: date, wall: time) -> set[datetime]:
    """UTC instants whose local reading is ``day`` + ``wall``: two when repeated, none in a gap.

    For a time in a gap, ``fold`` yields instants that do not read ``wall``; they are still
    returned as harmless extra candidates (callers re-check them), while the gap's real
    boundary is found as a transition.
    """
    naive = datetime.combine(day, wall)
    return {naive.replace(tzinfo=zone, fold=f).astimezone(timezone.utc) for f in (0, 1)}


def _transition(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first whole second in ``(lo, hi]`` with ``hi``'s UTC offset (one change assumed)."""
    target = hi.astimezone(zone).utcoffset()
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == target:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, timezone.utc)


def _transitions(zone: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """Offset changes in ``[lo, hi)``: where a wall clock jumps, in either direction."""
    left = lo
    while left < hi:
        right = min(left + _PROBE_STEP, hi)
        if left.astimezone(zone).utcoffset() != right.astimezone(zone).utcoffset():
            yield _transition(zone, left, right)
        left = right


# A wall-clock time in the form's schema as HH:MM[:SS]. Pydantic's own ``format: time`` is
# RFC 3339's full-time, which wants a UTC offset: the Prefect server's form validation then
# refused the defaults ("'09:00:00' is not a 'time'") and a person could not submit the
# campaign's run form. The value is still a ``datetime.time`` (validated by pydantic as before).
WallTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
            "examples": ["09:00", "20:30:00"],
        }
    ),
]


class CallingWindow(BaseModel):
    """Hours during which a contact may be called, in the contact's own time zone."""

    model_config = ConfigDict(frozen=True)

    start: WallTime = Field(default=time(9), description="Local time the window opens (inclusive).")
    end: WallTime = Field(default=time(20), description="Local time the window closes (exclusive).")
    days: tuple[int, ...] = Field(
        default=(0, 1, 2, 3, 4),
        description="Weekdays the window applies to: 'mon'..'sun' or 0 (Monday)..6 (Sunday).",
    )
    timezone: str = Field(
        default="UTC", description="IANA zone used for contacts that have no time zone."
    )

    @field_validator("days", mode="before")
    @classmethod
    def _normalise_days(cls, value: Any) -> tuple[int, ...]:
        items: Iterable[Any] = [value] if isinstance(value, str | int) else value
        days = tuple(sorted({_weekday(item) for item in items}))
        if not days:
            raise ValueError("days must name at least one weekday; the window would never open")
        return days

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return canonical_timezone(value)

    @field_validator("start", "end")
    @classmethod
    def _wall_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("start and end are local wall-clock times; drop the tzinfo")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> CallingWindow:
        if not self.start < self.end:
            raise ValueError(
                f"start ({self.start}) must be before end ({self.end}); windows that cross "
                "midnight are not supported, split them into two windows"
            )
        return self

    def zone(self, tz: str | None = None) -> ZoneInfo:
        """The contact's zone, or this window's default zone when the contact has none."""
        return ZoneInfo(canonical_timezone(tz) if tz else self.timezone)

    def is_open(self, at: datetime, tz: str | None = None) -> bool:
        """True when a contact in zone ``tz`` may be called at instant ``at``."""
        _require_aware(at)
        return self._open_in(at, self.zone(tz))

    def next_open(self, at: datetime, tz: str | None = None) -> datetime:
        """The first instant at or after ``at`` when the window is open, as an aware UTC time."""
        _require_aware(at)
        zone = self.zone(tz)
        at_utc = at.astimezone(timezone.utc)
        if self._open_in(at_utc, zone):
            return at_utc
        return self._first(at_utc, zone, lambda t: self._open_in(t, zone))

    def closes_at(self, at: datetime, tz: str | None = None) -> datetime | None:
        """When the window open at ``at`` closes (aware UTC), or None when it is closed now.

        For planning around the window (how long a run has left); the campaign engine itself
        checks ``is_open`` at each dial and each retry.
        """
        _require_aware(at)
        zone = self.zone(tz)
        at_utc = at.astimezone(timezone.utc)
        if not self._open_in(at_utc, zone):
            return None
        return self._first(at_utc, zone, lambda t: t > at_utc and not self._open_in(t, zone))

    def _open_in(self, at: datetime, zone: ZoneInfo) -> bool:
        local = at.astimezone(zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def _first(self, at: datetime, zone: ZoneInfo, wanted: Callable[[datetime], bool]) -> datetime:
        """The earliest candidate instant ``>= at`` for which ``wanted`` holds.

        Openness can only change where the wall clock reaches ``start``, ``end`` or midnight,
        or where it jumps (a DST transition), so those instants are the only candidates.
        Scanning a day at a time keeps the common case (open later today) cheap.
        """
        for k in range(_HORIZON_DAYS):
            lo, hi = at + timedelta(days=k), at + timedelta(days=k + 1)
            for candidate in sorted(self._candidates(zone, lo, hi)):
                if wanted(candidate):
                    return candidate
        raise RuntimeError(f"window never opens or closes within {_HORIZON_DAYS} days")

    def _candidates(self, zone: ZoneInfo, lo: datetime, hi: datetime) -> set[datetime]:
        found = set(_transitions(zone, lo, hi))
        first_day = lo.astimezone(zone).date() - timedelta(days=1)
        last_day = hi.astimezone(zone).date() + timedelta(days=1)
        day = first_day
        while day <= last_day:
            for wall in (self.start, self.end, time(0)):
                found |= _wall_instants(zone, day, wall)
            day += timedelta(days=1)
        return {t for t in found if lo <= t < hi}
