"""The incremental rules of a sync, one by one (pure: no HTTP, no dlt)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from casey_flows.client import Call
from casey_flows.warehouse.cursor import ConnectionCursor

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
LAG = timedelta(seconds=90)


def call(call_id: str, created: datetime, status: str = "completed") -> Call:
    return Call(id=call_id, status=status, created_at=created.isoformat())


def test_first_sync_reads_everything() -> None:
    cursor = ConnectionCursor()
    assert cursor.cutoff(LAG) is None
    assert cursor.is_new(call("a", T0 - timedelta(days=300)), None)


def test_window_reaches_back_the_list_lag_before_the_last_start() -> None:
    cursor = ConnectionCursor()
    cursor.record(call("a", T0), final=True, now=T0)
    cursor.finish(T0 + timedelta(minutes=10), LAG)
    # Newest call seen at T0, last sync started 10 min later: the older of the two bounds.
    assert cursor.cutoff(LAG) == T0
    cursor.record(call("b", T0 + timedelta(minutes=20)), final=True, now=T0)
    cursor.finish(T0 + timedelta(minutes=21), LAG)
    assert cursor.cutoff(LAG) == T0 + timedelta(minutes=21) - LAG


def test_a_call_loaded_final_is_skipped_when_listed_again() -> None:
    cursor = ConnectionCursor()
    late = T0 + timedelta(minutes=20)
    cursor.record(call("b", late), final=True, now=late)
    cursor.finish(late + timedelta(seconds=5), LAG)
    cutoff = cursor.cutoff(LAG)
    assert not cursor.is_new(call("b", late), cutoff)
    assert cursor.is_new(call("new", late + timedelta(seconds=1)), cutoff)
    # A call that appeared in the list late (created before the last sync) is still loaded.
    assert cursor.is_new(call("lagging", late - timedelta(seconds=30)), cutoff)


def test_an_open_call_is_remembered_until_final() -> None:
    cursor = ConnectionCursor()
    cursor.record(call("a", T0, status="in_progress"), final=False, now=T0)
    assert list(cursor.open_calls) == ["a"]
    cursor.finish(T0, LAG)
    # Older than any window, but still open: loaded again when listed.
    assert cursor.is_new(call("a", T0 - timedelta(days=1)), T0)
    cursor.record(call("a", T0), final=True, now=T0 + timedelta(hours=1))
    assert cursor.open_calls == {}


def test_open_calls_are_evicted_after_the_documented_age() -> None:
    cursor = ConnectionCursor()
    cursor.record(call("old", T0, status="queued"), final=False, now=T0)
    cursor.record(call("young", T0, status="queued"), final=False, now=T0 + timedelta(hours=20))
    assert cursor.evictable(T0 + timedelta(hours=25), timedelta(hours=24)) == ["old"]


def test_finish_forgets_final_calls_the_next_window_cannot_show() -> None:
    cursor = ConnectionCursor()
    cursor.record(call("old", T0), final=True, now=T0)
    cursor.record(call("recent", T0 + timedelta(hours=1)), final=True, now=T0)
    cursor.finish(T0 + timedelta(hours=1, seconds=30), LAG)
    assert set(cursor.recent_final) == {"recent"}


def test_state_round_trips_as_plain_json() -> None:
    import json

    cursor = ConnectionCursor()
    cursor.record(call("a", T0, status="ringing"), final=False, now=T0)
    cursor.finish(T0, LAG)
    again = ConnectionCursor.from_state(json.loads(json.dumps(cursor.to_state())))
    assert again == cursor
