"""The dry run's plan and ETA (pure: no sandbox, no Prefect): limits, windows, zones, DST."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.eta import (
    CLOSED_NOW,
    CLOSES_FIRST,
    PlanSettings,
    assumptions,
    plan_dialling,
    preview,
)
from casey_flows.core.waiting import WaitPolicy

UTC = timezone.utc
EVERY_DAY = CallingWindow(start="09:00", end="20:00", days=range(7))
ANY_TIME = CallingWindow(start="00:00", end="23:59:59", days=range(7))
WEDNESDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def settings(**overrides: object) -> PlanSettings:
    values: dict[str, object] = {
        "window": ANY_TIME,
        "max_concurrent_calls": 10,
        "max_requests_per_second": 1000.0,
        "expected_call_seconds": 60.0,
    }
    poll = {"min_poll_seconds": 2.0, "max_poll_seconds": 10.0}
    for name in ("min_poll_seconds", "max_poll_seconds"):
        if name in overrides:
            poll[name] = overrides.pop(name)  # type: ignore[assignment]
    values["poll"] = WaitPolicy(**poll)  # type: ignore[arg-type]
    return PlanSettings(**{**values, **overrides})  # type: ignore[arg-type]


def test_no_contacts_no_eta() -> None:
    plan = plan_dialling([], settings(), WEDNESDAY_NOON)
    assert (plan.eta, plan.makespan_seconds, plan.dialled, plan.deferred) == (None, 0.0, 0, 0)
    summary = preview(plan, suppressed=3, rejected=2)
    assert summary.headline() == "dry run: nobody would be called now; 3 suppressed; 2 rejected"


@pytest.mark.parametrize("count", [7, 95, 100, 1000])
def test_concurrency_bound_waves_of_c_calls(count: int) -> None:
    """Slots bind: ceil(N/C) waves of D, plus at most one fast poll per wave to see the end."""
    fast = settings(min_poll_seconds=0.05, max_poll_seconds=0.05)
    plan = plan_dialling([None] * count, fast, WEDNESDAY_NOON)
    waves = math.ceil(count / 10)
    assert waves * 60.0 <= plan.makespan_seconds <= waves * 60.0 + waves * 0.05 + 1e-6
    starts = [c.start for c in plan.contacts]
    assert starts == sorted(starts)  # in order, each as a slot frees
    assert plan.dialled == count


@pytest.mark.parametrize(("count", "rate", "seconds"), [(500, 10.0, 30.0), (60, 5.0, 1.0)])
def test_rate_bound_one_create_per_token(count: int, rate: float, seconds: float) -> None:
    """Requests bind: a burst of R creates, then one every 1/R; the last call lasts D."""
    plan = plan_dialling(
        [None] * count,
        settings(
            max_concurrent_calls=count, max_requests_per_second=rate, expected_call_seconds=seconds
        ),
        WEDNESDAY_NOON,
    )
    assert plan.makespan_seconds == pytest.approx((count - rate) / rate + seconds)
    # The brief's bound max(N/R, ceil(N/C)·D), give or take the burst and the last call.
    assert abs(plan.makespan_seconds - max(count / rate, seconds)) <= seconds + 1.0


def test_both_bounds_and_the_polls_that_free_slots() -> None:
    """The sandbox test's case, by hand: polls at +0.2 (sees the creates), +0.4, then +0.7 (the
    interval backed off to 0.3) sees the calls of 0.6 s gone: 8 waves of 0.7 s, the last 0.6."""
    plan = plan_dialling(
        [None] * 40,
        settings(
            max_concurrent_calls=5,
            max_requests_per_second=50.0,
            expected_call_seconds=0.6,
            min_poll_seconds=0.2,
        ),
        WEDNESDAY_NOON,
    )
    assert plan.makespan_seconds == pytest.approx(7 * 0.7 + 0.6)
    assert max(40 / 50, math.ceil(40 / 5) * 0.6) == pytest.approx(4.8)  # latency: +15 %


def test_window_closing_mid_campaign_defers_the_rest() -> None:
    now = datetime(2026, 11, 25, 19, 30, tzinfo=UTC)  # 30 minutes left, UTC contacts
    plan = plan_dialling(
        [None] * 10,
        settings(window=EVERY_DAY, max_concurrent_calls=2, expected_call_seconds=600.0),
        now,
    )
    assert plan.dialled == 6  # 19:30, ~19:40, ~19:50; the next slot comes after 20:00
    assert plan.eta is not None and now + timedelta(minutes=30) < plan.eta < now + timedelta(
        minutes=31
    )
    deferred = plan.contacts[6:]
    assert {(c.next_open, c.deferred_reason) for c in deferred} == {
        (datetime(2026, 11, 26, 9, 0, tzinfo=UTC), CLOSES_FIRST)
    }
    assert plan.deferred_by_day == {"2026-11-26": 4}
    summary = preview(plan, suppressed=3, rejected=2)
    assert summary.headline() == (
        "dry run: 6 would be called now, done by 20:01 UTC (~31 min); "
        "4 deferred to Thu 2026-11-26; 3 suppressed; 2 rejected"
    )


def test_each_zone_its_own_window_and_its_own_date() -> None:
    # Monday 02:00 UTC: Tokyo 11:00 Monday (open), Los Angeles 18:00 Sunday (closed: weekdays).
    weekdays = CallingWindow(start="09:00", end="20:00", days=["mon", "tue", "wed", "thu", "fri"])
    now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    zones = ["Asia/Tokyo", "America/Los_Angeles"] * 3
    plan = plan_dialling(zones, settings(window=weekdays, max_concurrent_calls=1), now)
    tokyo, angeles = plan.contacts[0::2], plan.contacts[1::2]
    assert all(c.start is not None for c in tokyo)
    # Closed contacts take no slot: Tokyo's calls follow each other without waiting for them.
    assert tokyo[0].start == now and tokyo[1].start - tokyo[0].start < timedelta(seconds=75)
    assert {(c.next_open, c.deferred_reason) for c in angeles} == {
        (datetime(2026, 11, 30, 17, 0, tzinfo=UTC), CLOSED_NOW)  # Monday 09:00 PST
    }
    assert plan.deferred_by_day == {"2026-11-30": 3}  # their own Monday, not UTC's


def test_a_window_that_opens_while_the_queue_is_busy_is_dialled_at_its_turn() -> None:
    """The engine checks the window when a contact's turn comes, not when the run starts."""
    now = datetime(2026, 11, 25, 13, 50, tzinfo=UTC)  # New York 08:50: opens in 10 minutes
    # A turn comes when the contact before it gets its slot: here at ~13:57 and ~14:03.
    zones = [None, None, "America/New_York", None, "America/New_York"]
    plan = plan_dialling(
        zones, settings(window=EVERY_DAY, max_concurrent_calls=1, expected_call_seconds=400.0), now
    )
    too_early, at_its_turn = plan.contacts[2], plan.contacts[4]
    assert too_early.next_open == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert at_its_turn.start is not None
    assert at_its_turn.start > datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def test_fall_back_evening_closes_by_standard_time() -> None:
    """Sunday 2026-11-01, New York back on EST: 20:00 local is 01:00 UTC, not 00:00."""
    new_york = CallingWindow(start="09:00", end="20:00", days=range(7), timezone="America/New_York")
    now = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)  # 18:30 EST
    plan = plan_dialling(
        [None] * 10,
        settings(window=new_york, max_concurrent_calls=1, expected_call_seconds=1200.0),
        now,
    )
    last_start = max(c.start for c in plan.contacts if c.start is not None)
    assert plan.dialled == 5 and datetime(2026, 11, 2, 0, 50, tzinfo=UTC) < last_start
    assert {c.next_open for c in plan.contacts[5:]} == {datetime(2026, 11, 2, 14, 0, tzinfo=UTC)}
    assert plan.deferred_by_day == {"2026-11-02": 5}


def test_deferred_over_spring_forward_opens_in_daylight_time() -> None:
    new_york = CallingWindow(start="09:00", end="17:00", days=range(7), timezone="America/New_York")
    saturday_evening = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)  # 18:00 EST
    plan = plan_dialling([None, "America/New_York"], settings(window=new_york), saturday_evening)
    assert {c.next_open for c in plan.contacts} == {datetime(2026, 3, 8, 13, 0, tzinfo=UTC)}
    assert {c.deferred_reason for c in plan.contacts} == {CLOSED_NOW}
    assert plan.eta is None and plan.deferred_by_day == {"2026-03-08": 2}


def test_call_timeout_gives_the_slot_back_early() -> None:
    plan = plan_dialling(
        [None] * 4,
        settings(max_concurrent_calls=1, expected_call_seconds=3600.0, call_timeout_seconds=60.0),
        WEDNESDAY_NOON,
    )
    starts = [c.start for c in plan.contacts]
    gaps = [b - a for a, b in pairwise(starts)]
    assert all(timedelta(seconds=60) <= gap < timedelta(seconds=75) for gap in gaps)
    assert plan.eta == starts[-1] + timedelta(hours=1)  # the call itself runs on


def test_retries_are_named_as_not_counted() -> None:
    plan = plan_dialling([None] * 3, settings(), WEDNESDAY_NOON)
    said = assumptions(
        plan.settings, max_attempts=3, retry_outcomes=["no_answer", "busy"], retry_delay_seconds=600
    )
    assert any(a.startswith("first attempts only: retries (no_answer, busy") for a in said)
    headline = preview(plan, max_attempts=3, assumed=said).headline()
    assert headline.endswith("; ETA for first attempts only (retries come on top)")
    assert "first attempts only (max_attempts = 1" in " ".join(assumptions(plan.settings))


def test_hundred_thousand_contacts_in_linear_steps() -> None:
    """100,000 contacts over four zones and several days: every contact planned once, and the
    polls simulated one by one stay a small multiple of the contacts (idle ones are skipped)."""
    zones = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", None] * 25_000
    plan = plan_dialling(
        zones, settings(window=EVERY_DAY, expected_call_seconds=120.0), WEDNESDAY_NOON
    )
    assert len(plan.contacts) == 100_000
    assert plan.dialled + plan.deferred == 100_000
    assert plan.dialled > 10_000 and sum(plan.deferred_by_day.values()) == plan.deferred
    assert plan.polls < 10 * plan.dialled
