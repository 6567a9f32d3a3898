"""The ledger read back into outcomes (casey_flows.campaign.status), on plain calls: no HTTP."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.publish import summary_markdown
from casey_flows.campaign.status import (
    NOT_LISTED_REASON,
    STILL_OPEN_REASON,
    belongs_to,
    campaign_of_key,
    ledger_outcomes,
    read_campaign_calls,
)
from casey_flows.client import Call
from casey_flows.client._constants import LIST_LIMIT_MAX
from casey_flows.core.dispatch import make_dispatch_key

ADA, BOB, CY = "+12025550101", "+12025550102", "+12025550103"
_ids = itertools.count(1)


def call(
    number: str | None,
    attempt: int = 1,
    *,
    campaign: str = "reminders",
    status: str = "completed",
    ended_reason: str | None = "customer_ended_call",
    with_id: bool = True,
    with_key: bool = True,
    **extra: Any,
) -> Call:
    """A call as the list returns it; ``with_id=False`` is a call placed before campaigns wrote
    their id into the context (only the dispatch key says whose it is)."""
    context: dict[str, Any] = {}
    if with_key:
        context["dispatch_key"] = make_dispatch_key(campaign, number or "", attempt)
    if with_id:
        context["campaign_id"] = campaign
    n = next(_ids)
    extra.setdefault("created_at", f"2026-11-27T09:{n // 60 % 60:02d}:{n % 60:02d}Z")
    return Call(
        id=f"call_{n:04d}",
        phone_number=number,
        status=status,
        ended_reason=ended_reason,
        context=context,
        **extra,
    )


def newest_first(*calls: Call) -> list[Call]:
    """The list's order: the calls were made in the order given."""
    return list(reversed(calls))


def test_campaign_of_key_is_everything_before_the_last_two_parts() -> None:
    assert campaign_of_key("reminders:0123abcd:2") == "reminders"
    assert campaign_of_key("a:b:0123abcd:1") == "a:b"  # a campaign id may hold ':'
    assert campaign_of_key("0123abcd:1") is None
    assert campaign_of_key(":0123abcd:1") is None


def test_a_call_belongs_by_its_campaign_id_or_its_key() -> None:
    assert belongs_to(call(ADA), "reminders")
    assert belongs_to(call(ADA, with_id=False), "reminders")  # an older call: the key alone
    assert belongs_to(call(ADA, with_key=False), "reminders")
    assert not belongs_to(call(ADA, campaign="reminders-2"), "reminders")
    assert not belongs_to(call(ADA, campaign="x:reminders"), "reminders")
    assert not belongs_to(Call(id="c", context="not a dict"), "reminders")
    assert not belongs_to(Call(id="c"), "reminders")


def test_attempts_call_ids_and_the_last_calls_outcome() -> None:
    first = call(ADA, 1, status="busy", ended_reason="busy")
    second = call(ADA, 2, status="no_answer", ended_reason="no_answer")
    bob = call(BOB, with_id=False, status="completed", ended_reason="voicemail")
    (ada, bob_outcome) = ledger_outcomes(newest_first(first, bob, second), "reminders")
    assert (ada.phone_number, ada.outcome, ada.status, ada.ended_reason) == (
        ADA,
        Outcome.NO_ANSWER,
        "no_answer",
        "no_answer",
    )
    assert (ada.attempts, ada.call_ids, ada.duplicate_call_ids) == (2, [first.id, second.id], [])
    assert (bob_outcome.outcome, bob_outcome.attempts) == ("voicemail", 1)


def test_other_campaigns_calls_are_not_counted() -> None:
    mine = call(ADA)
    theirs = [call(ADA, 2, campaign="other"), call(BOB, campaign="other", with_id=False)]
    (only,) = ledger_outcomes(newest_first(mine, *theirs), "reminders")
    assert (only.phone_number, only.attempts, only.call_ids) == (ADA, 1, [mine.id])


def test_more_than_one_call_under_one_key_is_a_duplicate_the_oldest_is_kept() -> None:
    kept = call(ADA, 1, status="busy", ended_reason="busy")
    again = call(ADA, 1, status="completed")
    retry = call(ADA, 2, status="completed")
    (ada,) = ledger_outcomes(newest_first(kept, again, retry), "reminders")
    assert ada.call_ids == [kept.id, retry.id]
    assert ada.duplicate_call_ids == [again.id]
    assert ada.attempts == 2
    result_markdown = _summary([ada])
    assert "dialled more than once" in result_markdown and "+12025550101" not in result_markdown


def test_a_call_seen_twice_by_overlapping_pages_is_not_a_duplicate() -> None:
    once = call(ADA)
    (ada,) = ledger_outcomes([once, once], "reminders")
    assert (ada.call_ids, ada.duplicate_call_ids) == ([once.id], [])


@pytest.mark.parametrize("status", ["ringing", "in_progress", "queued", "scheduled", None])
def test_a_live_last_call_is_still_open(status: str | None) -> None:
    earlier = call(ADA, 1, status="busy", ended_reason="busy")
    live = call(ADA, 2, status=status, ended_reason=None)  # type: ignore[arg-type]
    (ada,) = ledger_outcomes(newest_first(earlier, live), "reminders")
    assert (ada.outcome, ada.status, ada.attempts) == (Outcome.STILL_OPEN, status, 2)
    assert ada.reason == STILL_OPEN_REASON


def test_with_contacts_not_dialled_listed_order_and_numbers_off_the_list() -> None:
    contacts = [Contact(phone_number=CY, name="Cy"), Contact(phone_number=ADA, name="Ada")]
    stranger = call(BOB, name="Bob")
    ada = call(ADA, name="Ada")
    cy, ada_outcome, bob = ledger_outcomes(
        newest_first(stranger, ada), "reminders", contacts=contacts, not_dialled_reason="none"
    )
    assert (cy.phone_number, cy.name, cy.outcome, cy.reason) == (
        CY,
        "Cy",
        Outcome.NOT_DIALLED,
        "none",
    )
    assert (cy.attempts, cy.call_ids) == (0, [])
    assert (ada_outcome.outcome, ada_outcome.call_ids, ada_outcome.reason) == (
        "completed",
        [ada.id],
        None,
    )
    assert (bob.phone_number, bob.name, bob.call_ids) == (BOB, "Bob", [stranger.id])
    assert bob.reason == NOT_LISTED_REASON


def test_a_number_written_differently_on_the_call_still_matches_its_contact() -> None:
    spaced = call("+1 202 555 0101")
    (ada,) = ledger_outcomes([spaced], "reminders", contacts=[Contact(phone_number=ADA)])
    assert (ada.phone_number, ada.call_ids) == (ADA, [spaced.id])


def test_a_call_without_a_number_is_matched_by_its_key() -> None:
    keyed = call(ADA).model_copy(update={"phone_number": None})
    (ada,) = ledger_outcomes([keyed], "reminders", contacts=[Contact(phone_number=ADA)])
    assert (ada.phone_number, ada.call_ids) == (ADA, [keyed.id])
    (unknown,) = ledger_outcomes([keyed], "reminders")  # no list: reported, number unknown
    assert (unknown.phone_number, unknown.call_ids) == ("", [keyed.id])


def test_calls_with_the_campaign_id_but_no_key_count_as_attempts_after_keyed_ones() -> None:
    loose = call(ADA, with_key=False, status="failed", ended_reason="provider_error")
    keyed = call(ADA, 1, status="busy", ended_reason="busy")
    (ada,) = ledger_outcomes(newest_first(loose, keyed), "reminders")
    assert (ada.attempts, ada.call_ids, ada.outcome) == (2, [keyed.id, loose.id], "failed")


def test_reprs_mask_numbers() -> None:
    (ada,) = ledger_outcomes([call(ADA)], "reminders")
    assert ADA not in repr(ada) and ADA[1:] not in repr(ada)


class ListOnly:
    """Just enough of AsyncCaseyClient for the ledger's paging: a fixed list, newest first."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls
        self.reads = 0

    async def list_calls(self, connection_code: str, *, limit: int, offset: int, status: Any):
        self.reads += 1
        return self.calls[offset : offset + limit]


def read(calls: list[Call], **kwargs: Any) -> Any:
    client = ListOnly(calls)
    found = asyncio.run(read_campaign_calls(client, "c", "reminders", **kwargs))  # type: ignore[arg-type]
    return found, client.reads


def test_read_keeps_the_campaigns_calls_to_the_end_of_the_list() -> None:
    mine, theirs = call(ADA), call(BOB, campaign="other")
    found, reads = read([mine, theirs, mine], since=None)  # a call repeated by offset paging
    assert ([c.id for c in found.calls], found.scanned, found.complete) == ([mine.id], 3, True)
    assert reads == 1  # a short page is the end of the list


def test_read_stops_after_a_page_older_than_since_and_its_margin() -> None:
    now = datetime.now(timezone.utc)
    recent = [
        call(ADA, created_at=(now - timedelta(minutes=i)).isoformat())
        for i in range(LIST_LIMIT_MAX)
    ]
    old = [
        call(BOB, created_at=(now - timedelta(days=3, minutes=i)).isoformat())
        for i in range(2 * LIST_LIMIT_MAX)
    ]
    found, reads = read(recent + old, since=now - timedelta(hours=1))
    assert (reads, found.scanned, found.complete) == (2, 2 * LIST_LIMIT_MAX, True)


def test_read_cut_short_by_max_calls_says_so() -> None:
    many = [call(ADA) for _ in range(3 * LIST_LIMIT_MAX)]
    found, reads = read(many, since=None, max_calls=LIST_LIMIT_MAX)
    assert (found.scanned, found.complete, reads) == (LIST_LIMIT_MAX, False, 2)


def _summary(outcomes: list) -> str:
    from casey_flows.campaign.models import CampaignResult

    result = CampaignResult(campaign_id="reminders", connection_code="c", outcomes=outcomes)
    return summary_markdown(result, label="status from the call list", note="Rebuilt.")
