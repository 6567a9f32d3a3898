"""Calling windows: local wall-clock hours per contact, across weekends and both DST changes."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from casey_flows.campaign.calling_window import CallingWindow, canonical_timezone

UTC = timezone.utc
NY = "America/New_York"
BERLIN = "Europe/Berlin"
EVERY_DAY = list(range(7))
ONE_US = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


# --- the model -----------------------------------------------------------------------------


def test_defaults_are_nine_to_eight_on_weekdays_in_utc() -> None:
    window = CallingWindow()
    assert (window.start, window.end, window.days, window.timezone) == (
        time(9),
        time(20),
        (0, 1, 2, 3, 4),
        "UTC",
    )


def test_days_accept_names_and_numbers_and_are_stored_normalised() -> None:
    window = CallingWindow(days=["Sun", "monday", 2, "mon", " SAT "])
    assert window.days == (0, 2, 5, 6)
    assert CallingWindow(days="fri").days == (4,)


@pytest.mark.parametrize("days", [[], ["funday"], [7], [-1], [True], ["mo"]])
def test_bad_days_are_rejected(days: list[object]) -> None:
    with pytest.raises(ValidationError):
        CallingWindow(days=days)


@pytest.mark.parametrize(("start", "end"), [(time(20), time(9)), (time(9), time(9))])
def test_start_must_be_before_end_and_midnight_crossing_is_refused(start: time, end: time) -> None:
    with pytest.raises(ValidationError, match="cross midnight"):
        CallingWindow(start=start, end=end)


def test_aware_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="wall-clock"):
        CallingWindow(start=time(9, tzinfo=UTC))


def test_zone_names_are_checked_and_canonicalised() -> None:
    assert CallingWindow(timezone="europe/berlin").timezone == BERLIN
    assert canonical_timezone(" Asia/Kolkata ") == "Asia/Kolkata"
    for bogus in ("Mars/Base", "", "America", "../etc/passwd", "localtime"):
        with pytest.raises(ValueError, match="unknown time zone"):
            canonical_timezone(bogus)


def test_window_round_trips_through_json() -> None:
    window = CallingWindow(start=time(8, 30), end=time(17), days=["sat"], timezone=NY)
    assert CallingWindow.model_validate_json(window.model_dump_json()) == window
    parsed = CallingWindow.model_validate({"start": "08:30", "end": "17:00", "days": ["sat"]})
    assert (parsed.start, parsed.days) == (time(8, 30), (5,))


def test_naive_datetimes_are_refused() -> None:
    window = CallingWindow()
    naive = datetime(2026, 3, 9, 12)
    for call in (window.is_open, window.next_open, window.closes_at):
        with pytest.raises(ValueError, match="timezone-aware"):
            call(naive)


def test_unknown_contact_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        CallingWindow().is_open(utc(2026, 3, 9, 12), "Mars/Base")


# --- is_open -------------------------------------------------------------------------------


def test_start_is_inclusive_and_end_exclusive_in_the_contacts_zone() -> None:
    window = CallingWindow()
    # Monday 2026-03-09: New York is on EDT (UTC-4) since the day before.
    assert not window.is_open(utc(2026, 3, 9, 12, 59, 59), NY)
    assert window.is_open(utc(2026, 3, 9, 13), NY)
    assert window.is_open(utc(2026, 3, 9, 23, 59, 59), NY)
    assert not window.is_open(utc(2026, 3, 10, 0), NY)
    # Friday 2026-03-06 was still EST (UTC-5): the same 13:00 UTC is 08:00 there.
    assert not window.is_open(utc(2026, 3, 6, 13), NY)
    assert window.is_open(utc(2026, 3, 6, 14), NY)


def test_contact_zone_overrides_the_default_zone() -> None:
    window = CallingWindow(timezone=BERLIN)
    at = utc(2026, 6, 10, 8)  # Wednesday: 10:00 in Berlin, 04:00 in New York
    assert window.is_open(at)
    assert window.is_open(at, None)
    assert not window.is_open(at, NY)
    assert window.next_open(at, NY) == utc(2026, 6, 10, 13)


def test_weekends_are_closed_by_default_and_open_when_asked() -> None:
    saturday_noon = local(NY, 2026, 6, 13, 12)
    assert not CallingWindow().is_open(saturday_noon, NY)
    assert CallingWindow(days=["sat", "sun"]).is_open(saturday_noon, NY)
    assert not CallingWindow(days=["sat", "sun"]).is_open(local(NY, 2026, 6, 15, 12), NY)


def test_weekday_is_the_contacts_local_weekday() -> None:
    window = CallingWindow(start=time(0), end=time(23, 59), days=["fri"])
    # Saturday 01:00 UTC is still Friday evening in New York, but Saturday in Berlin.
    at = utc(2026, 6, 13, 1)
    assert window.is_open(at, NY)
    assert not window.is_open(at, BERLIN)


# --- next_open -----------------------------------------------------------------------------


def test_next_open_returns_at_itself_when_open_in_utc() -> None:
    at = local(NY, 2026, 6, 10, 12)
    result = CallingWindow().next_open(at, NY)
    assert result == at
    assert result.tzinfo == UTC


def test_friday_evening_goes_to_monday_morning_across_spring_forward() -> None:
    friday_evening = local(NY, 2026, 3, 6, 20, 30)  # EST
    monday_nine_edt = utc(2026, 3, 9, 13)
    assert CallingWindow().next_open(friday_evening, NY) == monday_nine_edt


def test_friday_evening_goes_to_monday_morning_across_fall_back_in_berlin() -> None:
    friday_evening = local(BERLIN, 2026, 10, 23, 21)  # CEST
    assert CallingWindow().next_open(friday_evening, BERLIN) == utc(2026, 10, 26, 8)  # 09:00 CET


def test_before_start_opens_today_after_end_opens_tomorrow() -> None:
    window = CallingWindow()
    assert window.next_open(local(NY, 2026, 6, 10, 7), NY) == utc(2026, 6, 10, 13)
    assert window.next_open(local(NY, 2026, 6, 10, 20), NY) == utc(2026, 6, 11, 13)


@pytest.mark.parametrize(
    ("zone", "day", "gap_end_utc"),
    [(NY, (2026, 3, 8), utc(2026, 3, 8, 7)), (BERLIN, (2026, 3, 29), utc(2026, 3, 29, 1))],
)
def test_start_inside_the_spring_forward_gap_opens_when_the_gap_ends(
    zone: str, day: tuple[int, int, int], gap_end_utc: datetime
) -> None:
    window = CallingWindow(start=time(2, 30), end=time(20), days=EVERY_DAY)
    midnight = local(zone, *day, 0)
    assert window.next_open(midnight, zone) == gap_end_utc  # 03:00 summer time
    assert not window.is_open(gap_end_utc - ONE_US, zone)
    assert gap_end_utc.astimezone(ZoneInfo(zone)).time() == time(3)


def test_window_entirely_inside_the_gap_skips_to_the_next_day() -> None:
    window = CallingWindow(start=time(2, 10), end=time(2, 50), days=EVERY_DAY)
    result = window.next_open(local(NY, 2026, 3, 8, 0), NY)
    assert result == local(NY, 2026, 3, 9, 2, 10)


def test_repeated_hour_reopens_the_window_after_fall_back_in_new_york() -> None:
    # 2026-11-01: 01:00-02:00 happens first in EDT (05:00-06:00 UTC), then in EST (06:00-07:00).
    window = CallingWindow(start=time(1, 30), end=time(1, 45), days=EVERY_DAY)
    first = local(NY, 2026, 11, 1, 1, 40)
    assert window.is_open(first, NY)
    assert window.closes_at(first, NY) == utc(2026, 11, 1, 5, 45)
    after_first = utc(2026, 11, 1, 5, 50)  # 01:50 EDT
    assert window.next_open(after_first, NY) == utc(2026, 11, 1, 6, 30)  # 01:30 EST


def test_fall_back_jump_into_the_window_opens_at_the_transition() -> None:
    window = CallingWindow(start=time(0, 30), end=time(1, 30), days=EVERY_DAY)
    at = utc(2026, 11, 1, 5, 45)  # 01:45 EDT, after the first 01:30
    assert window.next_open(at, NY) == utc(2026, 11, 1, 6)  # clocks go back to 01:00 EST


def test_repeated_hour_in_berlin() -> None:
    # 2026-10-25: 02:00-03:00 happens in CEST (00:00-01:00 UTC) and again in CET (01:00-02:00).
    window = CallingWindow(start=time(2, 15), end=time(2, 45), days=EVERY_DAY)
    assert window.next_open(utc(2026, 10, 24, 22), BERLIN) == utc(2026, 10, 25, 0, 15)
    assert window.next_open(utc(2026, 10, 25, 0, 50), BERLIN) == utc(2026, 10, 25, 1, 15)
    assert window.closes_at(utc(2026, 10, 25, 1, 20), BERLIN) == utc(2026, 10, 25, 1, 45)


def test_default_hours_shift_in_utc_across_the_dst_change() -> None:
    window = CallingWindow(days=EVERY_DAY)
    saturday = window.next_open(utc(2026, 3, 7, 6), NY)  # 01:00 EST
    sunday = window.next_open(utc(2026, 3, 8, 6), NY)
    assert (saturday, sunday) == (utc(2026, 3, 7, 14), utc(2026, 3, 8, 13))
    assert window.closes_at(sunday, NY) == utc(2026, 3, 9, 0)
    assert window.closes_at(utc(2026, 11, 1, 14), NY) == utc(2026, 11, 2, 1)


# --- closes_at -----------------------------------------------------------------------------


def test_closes_at_is_none_when_closed_and_end_of_today_when_open() -> None:
    window = CallingWindow()
    assert window.closes_at(local(NY, 2026, 6, 13, 12), NY) is None  # Saturday
    assert window.closes_at(local(NY, 2026, 6, 10, 19, 59), NY) == utc(2026, 6, 11, 0)


def test_closes_at_uses_the_first_reading_of_a_repeated_end_time() -> None:
    window = CallingWindow(start=time(0), end=time(1, 30), days=EVERY_DAY)
    assert window.closes_at(utc(2026, 11, 1, 5), NY) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT


# --- an oracle: minute-by-minute brute force over DST days ---------------------------------


DST_SUNDAYS = [(NY, 3, 8), (NY, 11, 1), (BERLIN, 3, 29), (BERLIN, 10, 25)]


@pytest.mark.parametrize(("zone", "month", "day"), DST_SUNDAYS)
@pytest.mark.parametrize(
    ("start", "end"),
    [(time(0, 30), time(1, 30)), (time(1, 30), time(2, 30)), (time(2, 30), time(3, 30))],
)
def test_next_open_matches_a_minute_by_minute_scan(
    zone: str, month: int, day: int, start: time, end: time
) -> None:
    window = CallingWindow(start=start, end=end, days=EVERY_DAY)
    begin = utc(2026, month, day) - timedelta(hours=12)
    minutes = [begin + timedelta(minutes=m) for m in range(3 * 24 * 60)]
    # The scan must cross a change of offset, or this test would prove nothing about DST.
    assert len({m.astimezone(ZoneInfo(zone)).utcoffset() for m in minutes}) == 2
    open_minutes = [m for m in minutes if window.is_open(m, zone)]
    for at in minutes[: 2 * 24 * 60 : 7]:
        expected = next(m for m in open_minutes if m >= at)
        assert window.next_open(at, zone) == expected, at
        if window.is_open(at, zone):
            closed = next(m for m in minutes if m > at and not window.is_open(m, zone))
            assert window.closes_at(at, zone) == closed, at


# --- properties ----------------------------------------------------------------------------

ZONES = st.sampled_from(
    [
        "UTC",
        NY,
        BERLIN,
        "Australia/Lord_Howe",  # 30-minute DST
        "Pacific/Apia",  # skipped a whole day in 2011
        "America/Santiago",  # transitions at midnight
        "Asia/Kathmandu",  # +05:45
        "Europe/Dublin",  # "negative" DST in the tz database
        "Africa/Casablanca",  # DST suspended during Ramadan
        "America/St_Johns",
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@st.composite
def windows(draw: st.DrawFn) -> CallingWindow:
    start = draw(st.times(max_value=time(23, 58)))
    start_dt = datetime.combine(datetime(2000, 1, 1), start)
    span = draw(st.integers(60, 24 * 3600 - 1))
    end_dt = min(start_dt + timedelta(seconds=span), datetime(2000, 1, 1, 23, 59, 59))
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    return CallingWindow(start=start, end=end_dt.time(), days=days)


@settings(max_examples=300, deadline=None)
@given(windows(), INSTANTS, ZONES)
def test_next_open_is_the_first_open_instant_at_or_after(
    window: CallingWindow, at: datetime, zone: str
) -> None:
    result = window.next_open(at, zone)
    assert result >= at
    assert window.is_open(result, zone)
    if result > at:
        assert not window.is_open(result - ONE_US, zone)


@settings(max_examples=300, deadline=None)
@given(windows(), INSTANTS, ZONES)
def test_closes_at_is_the_first_closed_instant_after_an_open_one(
    window: CallingWindow, at: datetime, zone: str
) -> None:
    opened = window.next_open(at, zone)
    closes = window.closes_at(opened, zone)
    assert closes is not None
    assert closes > opened
    assert not window.is_open(closes, zone)
    assert window.is_open(closes - ONE_US, zone)
    assert window.closes_at(closes, zone) is None
