"""A campaign's outcomes rebuilt from the call list alone: the dispatch ledger read for people.

After a cancel, a crash, or for an audit, the API is the record of who was dialled: every call a
campaign places carries its dispatch key (``campaign:sha256(number)[:16]:attempt``) and, since
keys gained it, ``context["campaign_id"]``. This module reads the connection's calls with the
ledger's own paging (:func:`casey_flows.client.recent.recent_call_pages`), keeps the campaign's
calls and turns them into the ``ContactOutcome`` rows a campaign reports, by the campaign's rules:

- one row per phone number; ``attempts`` is the number of distinct dispatch keys, ``call_ids``
  one call per key in attempt order (the oldest call of a key, as a re-run adopts it), and every
  further call under one key goes to ``duplicate_call_ids`` (dialled twice: shown, never hidden);
- the last attempt's call gives ``status``, ``ended_reason`` and the outcome (the engine's
  :func:`~casey_flows.campaign.outcomes.describe_outcome`); a call not ended yet is
  ``still_open``;
- with the contact list: contacts without a call are ``not_dialled``; numbers called that are
  not on the list are still reported (an audit must not hide a call).

What the list cannot say: why a contact was not dialled (deferred, suppressed, a row-level
error, a create left unconfirmed all read ``not_dialled`` here) or that a retry is still due.
No Prefect and no HTTP below :func:`read_campaign_calls`, so the rules are tested on plain calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.models import ContactOutcome
from casey_flows.campaign.outcomes import Outcome, describe_outcome
from casey_flows.campaign.phone_numbers import line_type_of, normalize_phone
from casey_flows.client import AsyncCaseyClient, Call
from casey_flows.client.recent import recent_call_pages
from casey_flows.client.status import DEFAULT_TERMINAL_STATUSES
from casey_flows.core.dispatch import (
    CAMPAIGN_CONTEXT_KEY,
    CLOCK_SKEW_MARGIN,
    campaign_of_key,
    dispatch_key_of,
    make_dispatch_key,
    parse_dispatch_key,
)
from casey_flows.exceptions import InvalidPhoneNumber

DEFAULT_MAX_CALLS = 50_000
STILL_OPEN_REASON = "the call had not ended when the call list was read"
NOT_DIALLED_REASON = "no call of this campaign in the calls read"
NOT_LISTED_REASON = "called by this campaign, but not on the contact list given"


def belongs_to(call: Call, campaign_id: str) -> bool:
    """The call was placed by campaign ``campaign_id``: its context says so, or (calls placed
    before campaigns wrote their id) its dispatch key does."""
    context = call.context
    if not isinstance(context, dict):
        return False
    if context.get(CAMPAIGN_CONTEXT_KEY) == campaign_id:
        return True
    return campaign_of_key(dispatch_key_of(call)) == campaign_id


@dataclass
class CampaignCalls:
    """What one read of the ledger found: the campaign's calls, newest first, and how far the
    read went (``complete`` False: it stopped at ``max_calls`` before the horizon)."""

    calls: list[Call] = field(default_factory=list)
    scanned: int = 0
    complete: bool = True


async def read_campaign_calls(
    client: AsyncCaseyClient,
    connection_code: str,
    campaign_id: str,
    *,
    since: datetime | None,
    margin: timedelta = CLOCK_SKEW_MARGIN,
    max_calls: int = DEFAULT_MAX_CALLS,
) -> CampaignCalls:
    """The campaign's calls on the connection, newest first, read the way the ledger reads
    them: back to ``since`` minus ``margin`` (clock skew), page by page (``since=None``: to the
    end of the list). Stops after ``max_calls`` calls and says so, rather than read forever."""
    found = CampaignCalls()
    seen: set[str] = set()
    horizon = since - margin if since is not None else None
    async for page in recent_call_pages(client, connection_code, cutoff=horizon):
        if found.scanned >= max_calls:
            found.complete = False
            break
        found.scanned += len(page)
        for call in page:
            # Offset pages of a list that grows at the head repeat a call now and then.
            if call.id not in seen and belongs_to(call, campaign_id):
                seen.add(call.id)
                found.calls.append(call)
    return found


# Where a call's attempt sorts: (0, attempt, key) for a dispatch key, (1, order, call id) for a
# call with the campaign's id but no key of ours, counted as an attempt of its own, after them.
_Slot = tuple[int, int, str]


@dataclass
class _NumberCalls:
    """One number's calls in the campaign: by attempt, each attempt's calls oldest first."""

    phone_number: str
    by_slot: dict[_Slot, list[Call]] = field(default_factory=dict)

    def add(self, key: str | None, call: Call) -> None:
        parsed = parse_dispatch_key(key)
        if key is None:
            slot: _Slot = (1, len(self.by_slot), call.id)
        else:
            attempt = parsed.attempt if parsed else ""
            slot = (0, int(attempt) if attempt.isdigit() else 0, key)
        self.by_slot.setdefault(slot, []).append(call)

    def outcome(
        self, contact: Contact | None, terminal_statuses: frozenset[str], reason: str | None
    ) -> ContactOutcome:
        slots = sorted(self.by_slot)
        kept = [self.by_slot[slot][0] for slot in slots]
        last = kept[-1]
        live = not last.is_terminal(terminal_statuses)
        reasons = [r for r in (reason, STILL_OPEN_REASON if live else None) if r]
        return ContactOutcome(
            phone_number=self.phone_number,
            name=contact.name if contact else last.name,
            line_type=contact.line_type if contact else line_type_of(self.phone_number),
            outcome=Outcome.STILL_OPEN if live else describe_outcome(last),
            status=last.status,
            ended_reason=last.ended_reason,
            attempts=len(kept),
            call_ids=[c.id for c in kept],
            reason="; ".join(reasons) or None,
            duplicate_call_ids=[c.id for slot in slots for c in self.by_slot[slot][1:]],
        )


def ledger_outcomes(
    calls: Iterable[Call],
    campaign_id: str,
    *,
    contacts: Sequence[Contact] | None = None,
    terminal_statuses: frozenset[str] = DEFAULT_TERMINAL_STATUSES,
    not_dialled_reason: str = NOT_DIALLED_REASON,
) -> list[ContactOutcome]:
    """One outcome per number the campaign called, from its calls as the list gives them
    (newest first; calls of other campaigns are skipped).

    With ``contacts`` (validated, deduplicated): one outcome per contact in their order, those
    without a call ``not_dialled``, then the numbers called that are not on the list. Without:
    the numbers called, in the order of their first call.
    """
    listed = {c.phone_number: c for c in contacts or ()}
    by_digest: dict[str, str] | None = None
    numbers: dict[str, _NumberCalls] = {}
    seen: set[str] = set()
    for call in reversed(list(calls)):  # oldest first: the first call of a key is the kept one
        if call.id in seen or not belongs_to(call, campaign_id):
            continue  # a call read twice (overlapping pages) is one call, not a duplicate
        seen.add(call.id)
        key = dispatch_key_of(call)
        number = _number_of(call)
        if number is None and key is not None:  # no number on the call: the key names it
            if by_digest is None:
                by_digest = {_digest(make_dispatch_key(campaign_id, n)): n for n in listed}
            number = by_digest.get(_digest(key))
        group = number if number is not None else f"key:{_digest(key) if key else call.id}"
        numbers.setdefault(group, _NumberCalls(number or "")).add(key, call)
    outcomes: list[ContactOutcome] = []
    for contact in contacts or ():
        entry = numbers.pop(contact.phone_number, None)
        if entry is None:
            outcomes.append(
                ContactOutcome.of(contact, Outcome.NOT_DIALLED, reason=not_dialled_reason)
            )
        else:
            outcomes.append(entry.outcome(contact, terminal_statuses, None))
    unlisted = NOT_LISTED_REASON if contacts is not None else None
    outcomes += [entry.outcome(None, terminal_statuses, unlisted) for entry in numbers.values()]
    return outcomes


def _number_of(call: Call) -> str | None:
    """The call's number in the form contacts are compared in (E.164), else as sent."""
    raw = (call.phone_number or "").strip()
    if not raw:
        return None
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber:
        return raw


def _digest(key: str) -> str:
    """The number's part of a dispatch key."""
    parsed = parse_dispatch_key(key)
    return parsed.digest if parsed else key
