"""CallAges: how young a call can end, learned from the calls seen end, erring towards reading."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from casey_flows.client import Call
from casey_flows.core.call_ages import SAMPLES_NEEDED, CallAges

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def call(n: int, created: datetime = T0) -> Call:
    return Call(id=f"c{n}", status="in_progress", created_at=created)


def seen_open_then_ended(ages: CallAges, n: int, open_at: float, ended_at: float) -> None:
    """Call ``n`` seen open ``open_at`` seconds after its create, then ended."""
    ages.seen([call(n)], [], T0.timestamp() + open_at)
    ages.seen([], [call(n)], T0.timestamp() + ended_at)


def test_nothing_is_left_unread_until_enough_calls_have_ended() -> None:
    ages = CallAges(margin_seconds=0, max_skip_seconds=60)
    for n in range(SAMPLES_NEEDED - 1):
        seen_open_then_ended(ages, n, 1.9, 2.1)
    assert ages.young_age() is None
    seen_open_then_ended(ages, 99, 1.9, 2.1)
    assert ages.young_age() == pytest.approx(1.9)


def test_the_youngest_ends_set_the_age_and_the_bound_caps_it() -> None:
    ages = CallAges(margin_seconds=0, max_skip_seconds=60)
    for n in range(100):
        seen_open_then_ended(ages, n, 30.0 + n, 31.0 + n)
    # The age at which the youngest 2 % were last seen open.
    assert ages.young_age() == pytest.approx(32.0)
    capped = CallAges(margin_seconds=0, max_skip_seconds=5)
    for n in range(100):
        seen_open_then_ended(capped, n, 30.0 + n, 31.0 + n)
    assert capped.young_age() == 5


def test_calls_that_ended_before_any_poll_saw_them_open_stop_all_skipping() -> None:
    ages = CallAges(margin_seconds=0, max_skip_seconds=60)
    for n in range(100):
        seen_open_then_ended(ages, n, 30.0, 31.0)
    assert ages.young_age() == pytest.approx(30.0)
    # A few calls ended before any poll read them (a busy line, say): they may end young.
    ages.seen([], [call(1000 + n, T0 + timedelta(seconds=n)) for n in range(3)], T0.timestamp())
    assert ages.young_age() is None


def test_calls_no_longer_watched_are_forgotten() -> None:
    ages = CallAges(margin_seconds=0, max_skip_seconds=60)
    ages.seen([call(1), call(2)], [], T0.timestamp() + 1)
    ages.forget({"c2": None})
    ages.seen([], [call(1)], T0.timestamp() + 2)  # forgotten: as if never seen open
    ages.seen([], [call(2)], T0.timestamp() + 2)
    assert list(ages._last_open) == [float("-inf"), 1.0]


def test_calls_are_read_a_margin_before_the_youngest_ends() -> None:
    """So each is read open at least once before calls of its age start ending."""
    ages = CallAges(margin_seconds=0.3, max_skip_seconds=60)
    for n in range(100):
        seen_open_then_ended(ages, n, 1.5, 1.7)
    assert ages.young_age() == pytest.approx(1.2)
    early = CallAges(margin_seconds=2.0, max_skip_seconds=60)
    for n in range(100):
        seen_open_then_ended(early, n, 1.5, 1.7)
    assert early.young_age() is None
