"""Contacts as a stream: read as they are needed, each row an outcome, memory not held per row."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import Contact, ContactStream, RejectedRow
from casey_flows.campaign.dry_run import plan_contacts
from casey_flows.campaign.engine import EngineHooks
from casey_flows.campaign.eta import PlanSettings
from casey_flows.campaign.live_suppression import LiveSuppression
from casey_flows.campaign.models import ContactOutcome
from casey_flows.campaign.outcome_log import KEEP_FIRST, OutcomeLog, outcome_row
from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.publish import TABLE_MAX_BYTES, table_rows
from casey_flows.campaign.screening import PARAMETER_SOURCE, Screening
from casey_flows.campaign.suppression import SuppressionList
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.campaign.engine_runner import ANY_TIME, run_engine

ROWS = 200_000
WEDNESDAY_NOON = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)  # 12:00 in New York


def phone(n: int) -> str:
    return f"+1202{2_000_000 + n:07d}"


def suppression_of(numbers: list[str]) -> LiveSuppression:
    async def read() -> list[SuppressionList]:
        return [SuppressionList(numbers, source=PARAMETER_SOURCE)]

    live = LiveSuppression(read, refresh_seconds=300, max_stale_seconds=1800)
    asyncio.run(live.refresh())
    return live


def test_a_dry_run_plans_200000_rows_from_a_generator_with_every_row_counted(
    tmp_path: Path,
) -> None:
    """A source no list parameter could carry: every row read once, as it comes; rejected,
    duplicate and suppressed rows counted; the result keeps a bounded sample."""
    read = 0

    def rows() -> Iterator[tuple[int, object]]:
        nonlocal read
        for n in range(1, ROWS + 1):
            read += 1
            if n % 1000 == 0:
                yield n, {"phone_number": "not a number"}  # 200 rejected
            elif n % 1000 == 1 and n > 1:
                yield n, {"phone_number": phone(n - 2)}  # 199 duplicates
            else:
                yield n, {"phone_number": phone(n), "timezone": "America/New_York"}

    log = OutcomeLog(tmp_path / "plan.csv")
    stream = ContactStream([rows()])
    screening = Screening(stream, suppression_of([phone(2), phone(3)]), log)
    settings = PlanSettings(
        window=CallingWindow(start="09:00", end="20:00", timezone="America/New_York"),
        max_concurrent_calls=1000,
        max_requests_per_second=500,
        expected_call_seconds=60,
    )
    plan = plan_contacts(screening, settings, now=WEDNESDAY_NOON)
    log.close()

    assert read == ROWS and stream.exhausted
    assert (stream.total_rows, stream.duplicates, screening.rejected) == (ROWS, 199, 200)
    assert screening.suppressed == 2
    dialled_or_deferred = ROWS - 199 - 200 - 2
    assert plan.dialled_now + plan.deferred == dialled_or_deferred
    assert log.total == ROWS - 199
    assert log.counts[Outcome.REJECTED.value] == 200
    assert log.counts[Outcome.SUPPRESSED.value] == 2
    assert log.counts[Outcome.PLANNED.value] + log.counts.get("deferred", 0) == dialled_or_deferred
    assert len(log.kept) == KEEP_FIRST  # planned outcomes are no problems: the first 5,000 only
    with open(log.path, newline="", encoding="utf-8") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == ROWS - 199


def test_the_stream_goes_on_where_it_stopped() -> None:
    stream = ContactStream([enumerate(({"phone_number": phone(n)} for n in range(5)), start=1)])
    first = next(iter(stream))
    rest = list(stream)
    assert isinstance(first, Contact) and first.phone_number == phone(0)
    assert [c.phone_number for c in rest if isinstance(c, Contact)] == [
        phone(n) for n in (1, 2, 3, 4)
    ]
    assert stream.exhausted and stream.total_rows == 5


def test_a_rejected_row_keeps_every_reason_under_its_own_row_number() -> None:
    stream = ContactStream([[(7, {"phone_number": "12", "timezone": "Mars/Base"})]])
    (item,) = list(stream)
    assert isinstance(item, RejectedRow) and item.row == 7
    assert {r.field for r in item.rejections} == {"phone_number", "timezone"}


def test_an_unread_contact_is_written_like_its_outcome_would_be(tmp_path: Path) -> None:
    """Past the kept sample no outcome object is built for a never-read contact; its row is the
    one its ContactOutcome would give."""
    contact = Contact(phone_number=phone(1), name="Ada")
    reason = "not dialled: stopped"
    log = OutcomeLog(tmp_path / "o.csv", keep_all_up_to=0, keep_first=0)
    log.add_not_dialled(contact, reason)
    log.close()
    with open(log.path, newline="", encoding="utf-8") as handle:
        (written,) = list(csv.DictReader(handle))
    expected = outcome_row(
        ContactOutcome.of(contact, Outcome.NOT_DIALLED, reason=reason), full_numbers=False
    )
    assert written == {k: "" if v is None else str(v) for k, v in expected.items()}
    assert log.counts == {"not_dialled": 1} and log.kept == []


def test_the_engine_reads_contacts_as_it_dials_them(clean_sandbox: EmbeddedSandbox) -> None:
    """With two slots, the source has been read only a little when the first call is placed;
    every contact still gets its outcome, each track handed over once."""
    read: list[str] = []
    read_at_first_dial: list[int] = []

    def contacts() -> Iterator[Contact]:
        for n in range(12):
            read.append(phone(9000 + n))
            yield Contact(phone_number=phone(9000 + n))

    def dispatched(_call: object) -> None:
        if not read_at_first_dial:
            read_at_first_dial.append(len(read))

    tracks = run_engine(
        clean_sandbox,
        contacts(),
        campaign_id="streamed",
        window=ANY_TIME,
        max_concurrent_calls=2,
        hooks=EngineHooks(on_dispatched=dispatched),
    )
    assert read_at_first_dial and read_at_first_dial[0] <= 3
    assert sorted(t.contact.phone_number for t in tracks) == sorted(read)
    assert len(read) == 12 and all(t.outcome is not None for t in tracks)


def test_the_outcome_table_stays_under_the_size_prefect_publishes_as_an_event() -> None:
    """Prefect's server puts an artifact's data into an event and refuses one over 1.5 MB; 5,000
    rows with names and reasons are ~2 MB, so the table is cut by size too."""
    outcomes = [
        ContactOutcome(
            phone_number=phone(n),
            name="A rather long name for a contact " * 2,
            outcome=Outcome.NOT_DIALLED,
            reason="not dialled: the campaign was stopped (cancelled) first",
            call_ids=[f"call-{n}-{i}" for i in range(3)],
        )
        for n in range(KEEP_FIRST)
    ]
    rows = table_rows(outcomes)
    assert 1000 < len(rows) < KEEP_FIRST
    assert len(json.dumps(rows)) <= TABLE_MAX_BYTES
    assert len(json.dumps([outcome_row(o, full_numbers=False) for o in outcomes])) > 1_500_000


def test_progress_is_at_least_the_rows_read_until_the_sources_end(tmp_path: Path) -> None:
    rows = [(1, {"phone_number": phone(1)}), (2, {"phone_number": phone(1)})]
    rows.append((3, {"phone_number": phone(2)}))
    screening = Screening(ContactStream([rows]), suppression_of([]), OutcomeLog(tmp_path / "o"))
    contacts = iter(screening)
    next(contacts)
    assert screening.to_come == (1, False)  # "1 of at least 1": more may come
    assert [c.phone_number for c in contacts] == [phone(2)]
    assert screening.to_come == (2, True)  # 3 rows, one a duplicate: 2 contacts, all read


def test_progress_is_out_of_the_rows_the_sources_said_they_hold(tmp_path: Path) -> None:
    rows = [(n, {"phone_number": phone(n)}) for n in range(1, 4)]
    screening = Screening(
        ContactStream([rows], known_rows=3), suppression_of([]), OutcomeLog(tmp_path / "o")
    )
    next(iter(screening))
    assert screening.to_come == (3, True)  # "1 of 3"
