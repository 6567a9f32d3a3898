"""Calling hours in each contact's own zone, across DST, with a fixed clock (engine level).

The engine takes its clock as a parameter, so these tests pin "now" to instants around the
2026 DST changes and dial the real sandbox; no flow needed.
"""

from __future__ import annotations

from datetime import datetime, timezone

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.engine import Track
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.campaign import engine_runner

WEEKDAYS_9_TO_8 = CallingWindow(
    start="09:00", end="20:00", days=["mon", "tue", "wed", "thu", "fri"]
)


def run_engine(
    sandbox: EmbeddedSandbox, now: datetime, contacts: list[Contact], **settings: object
) -> list[Track]:
    return engine_runner.run_engine(
        sandbox,
        contacts,
        campaign_id=f"window-{now:%Y%m%d%H%M}",
        window=WEEKDAYS_9_TO_8,
        clock=lambda: now,
        **settings,
    )


NEW_YORK = Contact(phone_number="+12025551201", timezone="America/New_York")
BERLIN = Contact(phone_number="+493012345601", timezone="Europe/Berlin")
NO_ZONE = Contact(phone_number="+12025551202")  # falls back to the window's zone (UTC)


def outcomes(tracks: list[Track]) -> dict[str, tuple[str, datetime | None]]:
    return {t.contact.phone_number: (t.outcome.outcome, t.outcome.next_call_at) for t in tracks}


def test_sunday_of_spring_forward_defers_each_contact_to_its_own_monday(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    sunday = datetime(2026, 3, 8, 13, 30, tzinfo=timezone.utc)  # 09:30 EDT, 14:30 CET
    result = outcomes(run_engine(clean_sandbox, sunday, [NEW_YORK, BERLIN, NO_ZONE]))
    assert result[NEW_YORK.phone_number] == (
        "deferred",
        datetime(2026, 3, 9, 13, 0, tzinfo=timezone.utc),
    )
    assert result[BERLIN.phone_number] == (
        "deferred",
        datetime(2026, 3, 9, 8, 0, tzinfo=timezone.utc),
    )
    assert result[NO_ZONE.phone_number] == (
        "deferred",
        datetime(2026, 3, 9, 9, 0, tzinfo=timezone.utc),
    )
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_monday_after_spring_forward_uses_daylight_time(clean_sandbox: EmbeddedSandbox) -> None:
    # 13:30 UTC is 09:30 EDT (open); under standard time it would be 08:30 (closed).
    monday = datetime(2026, 3, 9, 13, 30, tzinfo=timezone.utc)
    result = outcomes(run_engine(clean_sandbox, monday, [NEW_YORK, BERLIN]))
    assert result[NEW_YORK.phone_number][0] != "deferred"
    assert result[BERLIN.phone_number][0] != "deferred"  # 14:30 CET
    assert set(clean_sandbox.admin.stats()["calls_by_phone"]) == {
        NEW_YORK.phone_number,
        BERLIN.phone_number,
    }


def test_after_fall_back_the_evening_closes_an_hour_later_in_utc(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    late = datetime(2026, 11, 3, 0, 30, tzinfo=timezone.utc)  # Monday 19:30 EST: still open
    result = outcomes(run_engine(clean_sandbox, late, [NEW_YORK]))
    assert result[NEW_YORK.phone_number][0] != "deferred"
    closed = datetime(2026, 11, 3, 1, 30, tzinfo=timezone.utc)  # Monday 20:30 EST
    result = outcomes(run_engine(clean_sandbox, closed, [NEW_YORK]))
    assert result[NEW_YORK.phone_number] == (
        "deferred",
        datetime(2026, 11, 3, 14, 0, tzinfo=timezone.utc),
    )


def test_a_retry_never_falls_outside_the_window(clean_sandbox: EmbeddedSandbox) -> None:
    busy = Contact(phone_number="+12025550486", timezone="America/New_York")
    friday_evening = datetime(2026, 3, 13, 23, 59, tzinfo=timezone.utc)  # Friday 19:59 EDT
    [track] = run_engine(
        clean_sandbox,
        friday_evening,
        [busy],
        max_attempts=2,
        retry_delay_seconds=120,
        retry_outcomes=frozenset({"busy"}),
    )
    assert track.outcome is not None
    assert track.outcome.outcome == "deferred"
    assert track.outcome.next_call_at == datetime(2026, 3, 16, 13, 0, tzinfo=timezone.utc)
    assert len(track.call_ids) == 1
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {busy.phone_number: 1}
