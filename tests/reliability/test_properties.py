"""Hypothesis properties the unit tests do not already state.

E.164: the three layers that judge a number (``casey_flows.client.is_e164``, ``CallRequest.build``
in the client, ``casey_flows.campaign.contacts.normalize_phone`` for input files) agree, and none
of them ever shows a number whole in an error. CSV: generated rows survive a round trip through a
real file and ``load_contacts_file``. Calling window across DST: ``next_open`` is monotone,
bounded, and opens at the window's start unless a clock change jumps into the window.
(``tests/campaign/test_contacts.py`` and ``tests/campaign/test_calling_window.py`` already cover
normalisation of formatted numbers and first-open/first-closed instants; not repeated here.)
"""

from __future__ import annotations

import csv
import string
import tempfile
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import InvalidPhoneNumber, load_contacts_file
from casey_flows.campaign.phone_numbers import normalize_phone
from casey_flows.client.errors import InvalidRequestError
from casey_flows.client.models import CallRequest
from casey_flows.client.phone import is_e164, mask_phone
from tests.phone_samples import VALID_E164

pytestmark = pytest.mark.reliability

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

E164 = st.from_regex(r"\A\+[1-9][0-9]{1,14}\Z", fullmatch=True)
PHONE_ALPHABET = st.sampled_from(list("+0123456789 -.()x\u00a0\u0661\u0662\u0663"))
PHONE_LIKE = st.one_of(E164, st.text(PHONE_ALPHABET, max_size=22), st.text(max_size=22))


# -- E.164 ------------------------------------------------------------------------------------


@FAST
@given(PHONE_LIKE)
def test_client_accepts_exactly_what_is_e164_accepts_and_masks_what_it_refuses(
    text: str,
) -> None:
    try:
        request = CallRequest.build(phone_number=text)
    except InvalidRequestError as exc:
        assert not is_e164(text)
        assert exc.field == "phone_number"
        if len(text) >= 8:
            assert text not in str(exc), "a refused number must be shown masked"
    else:
        assert is_e164(text) and request.phone_number == text
        assert text not in repr(request) or len(text) < 10


@FAST
@given(PHONE_LIKE)
@example("+49030000")  # a national trunk 0 after the country code: dropped, the same number
def test_whatever_the_contacts_layer_accepts_the_client_sends(text: str) -> None:
    try:
        number = normalize_phone(text)
    except InvalidPhoneNumber as exc:
        stripped = text.strip()
        if len(stripped) >= 10:
            assert stripped not in str(exc)
        return
    assert is_e164(number)
    assert CallRequest.build(phone_number=number).phone_number == number
    if is_e164(text):  # already E.164: the same number, not always the same digits
        assert phonenumbers.parse(number) == phonenumbers.parse(text)


@FAST
@given(E164)
def test_masking_hides_the_middle_and_the_length(number: str) -> None:
    masked = mask_phone(number)
    if len(number) >= 10:
        assert masked == number[:2] + "•••••" + number[-4:]
        assert number[2:-4] not in masked.replace("•", "")
    else:
        assert len(masked.replace("•", "")) <= 2


# -- CSV round trip ---------------------------------------------------------------------------

NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")
ZONES = st.sampled_from(["", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kathmandu"])
CONTEXT = st.text(string.ascii_letters + string.digits + " ,\"'\n;é", max_size=20)


@st.composite
def contact_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    numbers = draw(st.lists(VALID_E164, min_size=1, max_size=15))
    rows = []
    for number in numbers:
        shown = draw(st.sampled_from([number, _spaced(number), f"+{number[1:2]} ({number[2:]})"]))
        rows.append(
            {
                "phone_number": shown,
                "name": draw(NAMES),
                "timezone": draw(ZONES),
                "context.note": draw(CONTEXT),
            }
        )
    return rows


def _spaced(number: str) -> str:
    return "+" + " ".join(number[1:][i : i + 3] for i in range(0, len(number) - 1, 3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contact_rows(), st.booleans())
def test_generated_rows_round_trip_through_a_csv_file(
    rows: list[dict[str, str]], bom: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        batch = load_contacts_file(path, default_timezone="Europe/Paris")
    assert batch.rejected == [] and batch.warnings == []
    expected: dict[str, dict[str, str]] = {}
    for row in rows:
        expected.setdefault(normalize_phone(row["phone_number"]), row)
    assert [c.phone_number for c in batch.contacts] == list(expected)
    assert batch.duplicates == len(rows) - len(expected)
    for contact in batch.contacts:
        row = expected[contact.phone_number]
        assert contact.name == row["name"].strip()
        assert contact.timezone == (row["timezone"] or "Europe/Paris")
        note = row["context.note"]
        assert contact.context == ({"note": note} if note.strip() else {})


# -- calling window across DST ----------------------------------------------------------------

DST_ZONES = st.sampled_from(
    ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "UTC"]
)
# Instants within two days of a 2026 clock change in one of the zones above.
CHANGES = [
    datetime(2026, 3, 8, 7, tzinfo=timezone.utc),
    datetime(2026, 11, 1, 6, tzinfo=timezone.utc),
    datetime(2026, 3, 29, 1, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 1, tzinfo=timezone.utc),
    datetime(2026, 4, 4, 15, tzinfo=timezone.utc),
    datetime(2026, 10, 3, 15, tzinfo=timezone.utc),
    datetime(2026, 4, 5, 3, tzinfo=timezone.utc),
    datetime(2026, 9, 6, 4, tzinfo=timezone.utc),
]
NEAR_CHANGE = st.builds(
    lambda base, seconds: base + timedelta(seconds=seconds),
    st.sampled_from(CHANGES),
    st.integers(-2 * 86400, 2 * 86400),
)


@st.composite
def windows(draw: st.DrawFn) -> CallingWindow:
    start = draw(st.times(max_value=time(23, 0)).map(lambda t: t.replace(microsecond=0)))
    minutes = draw(st.integers(15, 12 * 60))
    end_dt = min(
        datetime.combine(datetime(2026, 1, 1), start) + timedelta(minutes=minutes),
        datetime(2026, 1, 1, 23, 59, 59),
    )
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    return CallingWindow(start=start, end=end_dt.time(), days=days)


def _is_clock_change(instant: datetime, zone: ZoneInfo) -> bool:
    before = instant - timedelta(microseconds=1)
    return before.astimezone(zone).utcoffset() != instant.astimezone(zone).utcoffset()


@FAST
@given(windows(), NEAR_CHANGE, st.integers(0, 3 * 86400), DST_ZONES)
def test_next_open_is_monotone_across_clock_changes(
    window: CallingWindow, at: datetime, later_by: int, zone: str
) -> None:
    later = at + timedelta(seconds=later_by)
    assert window.next_open(at, zone) <= window.next_open(later, zone)


@FAST
@given(windows(), NEAR_CHANGE, DST_ZONES)
def test_next_open_opens_at_start_unless_the_clock_jumps_into_the_window(
    window: CallingWindow, at: datetime, zone: str
) -> None:
    opened = window.next_open(at, zone)
    assert opened - at < timedelta(days=15), "a window with a weekday opens within two weeks"
    assume(opened > at)
    local = opened.astimezone(ZoneInfo(zone))
    assert local.time() == window.start or _is_clock_change(opened, ZoneInfo(zone)), local
    assert window.next_open(opened, zone) == opened
