"""What one connection's sync remembers between runs, and the rules that use it.

Why not ``dlt.sources.incremental("created_at")``: it drops a re-read row older than its cursor
(a call that was ``in_progress`` at the last sync and has completed since would never be loaded
again), and a fixed time ``lag`` misses calls that stay open longer than the lag. So the state is
explicit, plain JSON inside dlt's resource state:

- ``newest_created_at`` / ``last_started_at``: the list is read back to the older of the newest
  call already seen and the last sync's start minus ``list_lag`` (a call may appear in the list
  late; the same tolerance as the campaign's re-dial rule);
- ``open_calls``: calls not final at a sync, re-read by id next time until they are, and evicted
  with a warning once older than ``evict_after``;
- ``recent_final``: calls already loaded final that the re-listed window will show again, so
  they are skipped (nothing final is read twice); pruned as the window moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from casey_flows.client.models import Call
from casey_flows.client.recent import as_utc


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()


def _at(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


def _instant(text: str | None) -> datetime | None:
    return _at(text) if text else None


@dataclass
class ConnectionCursor:
    """One connection's sync state; ``to_state``/``from_state`` round-trip through dlt."""

    newest_created_at: str | None = None
    last_started_at: str | None = None
    open_calls: dict[str, str] = field(default_factory=dict)  # call id -> first seen open
    recent_final: dict[str, str] = field(default_factory=dict)  # call id -> created_at

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ConnectionCursor:
        state = state or {}
        return cls(
            newest_created_at=state.get("newest_created_at"),
            last_started_at=state.get("last_started_at"),
            open_calls=dict(state.get("open_calls") or {}),
            recent_final=dict(state.get("recent_final") or {}),
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "newest_created_at": self.newest_created_at,
            "last_started_at": self.last_started_at,
            "open_calls": self.open_calls,
            "recent_final": self.recent_final,
        }

    def cutoff(self, list_lag: timedelta) -> datetime | None:
        """How far back this sync lists; None on the first sync (read everything)."""
        newest, started = _instant(self.newest_created_at), _instant(self.last_started_at)
        if newest is None or started is None:
            return None
        return min(newest, started - list_lag)

    def is_new(self, call: Call, cutoff: datetime | None) -> bool:
        """Whether a listed call must be loaded: not already loaded final, not older than the
        window (unless it is one of ours still open)."""
        if call.id in self.recent_final:
            return False
        if call.id in self.open_calls or cutoff is None or call.created_at is None:
            return True
        return as_utc(call.created_at) >= cutoff

    def record(self, call: Call, *, final: bool, now: datetime) -> None:
        """Remember what was loaded: final calls leave the open set, open ones join it."""
        newest = _instant(self.newest_created_at)
        if call.created_at is not None and (newest is None or as_utc(call.created_at) > newest):
            self.newest_created_at = _iso(call.created_at)
        if final:
            self.open_calls.pop(call.id, None)
            self.recent_final[call.id] = _iso(call.created_at or now)
        else:
            self.open_calls.setdefault(call.id, _iso(now))

    def evictable(self, now: datetime, evict_after: timedelta) -> list[str]:
        """Open calls first seen longer ago than ``evict_after``: they are given up on."""
        return [
            call_id
            for call_id, first_seen in self.open_calls.items()
            if now - _at(first_seen) > evict_after
        ]

    def finish(self, started: datetime, list_lag: timedelta) -> None:
        """Close the sync: remember its start and forget final calls the next window skips."""
        self.last_started_at = _iso(started)
        horizon = self.cutoff(list_lag)
        if horizon is not None:
            self.recent_final = {
                call_id: created
                for call_id, created in self.recent_final.items()
                if _at(created) >= horizon
            }
