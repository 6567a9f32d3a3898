"""The typed inputs and results of a call campaign.

Inputs are lenient on purpose (``ContactInput`` takes any strings) so that one bad row is
reported on its own instead of failing the run's parameter validation for every row. Results
carry full numbers only where a data team needs to join them back; every repr masks them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, model_validator

from casey_flows.campaign.contacts import RejectedRow
from casey_flows.campaign.outcomes import (
    Outcome,
    OutcomeField,
    outcome_label,
    outcome_value,
    to_outcome,
)
from casey_flows.campaign.phone_numbers import UNKNOWN, LineType
from casey_flows.client import Call, MaskedPhoneRepr, mask_phone

if TYPE_CHECKING:
    from casey_flows.campaign.contacts import ContactBatch, ContactRejection


class ContactInput(MaskedPhoneRepr):
    """One contact as given to the flow (validated later, row by row)."""

    phone_number: str = Field(
        description="E.164, e.g. +14155550123 (spaces/dashes allowed); a national format such "
        "as (202) 555-0100 with a region or the campaign's default_region."
    )
    name: str | None = Field(default=None, description="Who is called (<= 200 characters).")
    participant_id: str | None = Field(default=None, description="Participant uuid, optional.")
    timezone: str | None = Field(
        default=None, description="IANA zone of the contact, e.g. America/Chicago."
    )
    context: dict[str, Any] = Field(default_factory=dict, description="Data for the agent.")
    region: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 country whose national format phone_number is in, "
        "e.g. US (the campaign's default_region otherwise).",
    )


class ContactOutcome(MaskedPhoneRepr):
    """The end of one contact's story in this campaign run."""

    row: int | None = Field(default=None, description="Row in the input, if it came from one.")
    phone_number: str = Field(description="As dialled (E.164), or as given if rejected.")
    name: str | None = None
    line_type: LineType = Field(
        default=UNKNOWN,
        description="libphonenumber's line type of the number (mobile, fixed_line, "
        "fixed_line_or_mobile, voip, ...); unknown when it is no valid number. No porting data.",
    )
    outcome: OutcomeField = Field(
        description="An Outcome (completed, no_answer, busy, voicemail, failed, deferred, ...), "
        "or a call status it does not name, normalised; written out as the plain value."
    )
    status: str | None = Field(default=None, description="The call's last status, as sent.")
    ended_reason: str | None = None
    attempts: int = 0
    call_ids: list[str] = Field(default_factory=list)
    next_call_at: datetime | None = Field(
        default=None, description="Deferred: the next instant the calling window opens."
    )
    planned_at: datetime | None = Field(
        default=None,
        description="Dry run: when this run would place the call (see CampaignResult.preview).",
    )
    reason: str | None = Field(default=None, description="Why it was rejected or not dialled.")
    duplicate_call_ids: list[str] = Field(
        default_factory=list,
        description="Calls found for the same dispatch key beyond the first: dialled twice.",
    )

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone_number)

    @classmethod
    def of(
        cls,
        contact: ContactInput | Any,
        outcome: Outcome | str,
        *,
        last_call: Call | None = None,
        call_ids: list[str] | None = None,
        **fields: Any,
    ) -> ContactOutcome:
        """The outcome of one contact (anything with ``phone_number`` and ``name``, and
        ``line_type`` if it was read), with the status and ended_reason of the last call placed
        for it, if any."""
        return cls(
            phone_number=contact.phone_number,
            name=contact.name,
            line_type=getattr(contact, "line_type", UNKNOWN),
            outcome=outcome,
            status=last_call.status if last_call else None,
            ended_reason=last_call.ended_reason if last_call else None,
            attempts=len(call_ids or ()),
            call_ids=list(call_ids or ()),
            **fields,
        )


# How many deferral days the headline names before "and N more days".
HEADLINE_DAYS = 3


class CampaignPreview(BaseModel):
    """A dry run's plan: how many this run would call, and when it would be done.

    The ETA takes every call to last ``expected_call_seconds`` and counts first attempts only;
    ``assumptions`` says in words what else it takes for granted (``casey_flows.campaign.eta``).
    """

    as_of: datetime = Field(description="The plan's 'now': when the dry run ran.")
    eta: datetime | None = Field(
        default=None, description="When the last call this run places would end; None if none."
    )
    makespan_seconds: float = Field(default=0.0, description="From as_of to eta.")
    dialled_now: int = Field(default=0, description="Contacts this run would dial.")
    deferred: int = Field(default=0, description="Contacts whose window is closed at their turn.")
    deferred_by_day: dict[str, int] = Field(
        default_factory=dict,
        description="Deferred contacts by the date (ISO, in each contact's own zone) their "
        "window next opens.",
    )
    suppressed: int = 0
    excluded: int = Field(default=0, description="Contacts of a line type not dialled.")
    rejected: int = 0
    expected_call_seconds: float = Field(description="The call length the plan assumes.")
    max_attempts: int = Field(
        default=1, description="Retries beyond the first attempt are not in the ETA."
    )
    assumptions: list[str] = Field(default_factory=list)

    def headline(self) -> str:
        """One line for the run's final state: who is called, done by when, what waits."""
        parts = [f"dry run: {self._called()}"]
        if self.deferred:
            parts.append(f"{self.deferred} deferred {self._deferred_to()}")
        if self.suppressed:
            parts.append(f"{self.suppressed} suppressed")
        if self.excluded:
            parts.append(f"{self.excluded} excluded by line type")
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        if self.max_attempts > 1 and self.dialled_now:
            parts.append("ETA for first attempts only (retries come on top)")
        return "; ".join(parts)

    def done_by(self, *, with_date: bool = False) -> str | None:
        """The ETA rounded up to the minute (UTC), with its date if asked or not the plan's day."""
        if self.eta is None:
            return None
        exact = self.eta.astimezone(timezone.utc)
        eta = exact.replace(second=0, microsecond=0)
        if eta < exact:
            eta += timedelta(minutes=1)
        same_day = eta.date() == self.as_of.astimezone(timezone.utc).date()
        return f"{eta:%H:%M} UTC" if same_day and not with_date else f"{eta:%a %Y-%m-%d %H:%M} UTC"

    def _deferred_to(self) -> str:
        days = list(self.deferred_by_day.items())
        if len(days) == 1:
            return f"to {day_label(days[0][0])}"
        shown = [f"{n} to {day_label(day)}" for day, n in days[:HEADLINE_DAYS]]
        if len(days) > HEADLINE_DAYS:
            shown.append(f"{len(days) - HEADLINE_DAYS} more days")
        return f"({', '.join(shown)})"

    def _called(self) -> str:
        if not self.dialled_now:
            return "nobody would be called now"
        return (
            f"{self.dialled_now} would be called now, done by {self.done_by()} "
            f"(~{describe_seconds(self.makespan_seconds)})"
        )


def day_label(iso_day: str) -> str:
    return f"{date.fromisoformat(iso_day):%a %Y-%m-%d}"


def describe_seconds(seconds: float) -> str:
    """Rough words for a span: 45 s, 38 min, 5.2 h, 3.1 days."""
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 120 * 60:
        return f"{math.ceil(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class CampaignResult(BaseModel):
    """What ``call_campaign`` (and ``campaign_status``) returns: exact counts for every contact,
    the outcomes kept in memory, and where the CSV of every outcome is.

    ``outcomes`` holds every contact's outcome up to 10,000 contacts (``outcomes_complete``);
    above that the first 5,000 and every problem outcome (error, unconfirmed, still_open, and
    anyone dialled twice), the rest only in the CSV at ``outcomes_csv``
    (``casey_flows.campaign.outcome_log``). ``counts`` and ``total`` are always exact.
    """

    campaign_id: str
    connection_code: str
    dry_run: bool = False
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="Contacts by outcome value (no_answer, ...), most frequent first: every "
        "contact, also those not in outcomes.",
    )
    total: int = Field(default=0, description="Contacts with an outcome: the sum of counts.")
    ended_reasons: dict[str, int] = Field(
        default_factory=dict,
        description="Contacts by their last call's ended_reason (as sent), most frequent first: "
        "every contact whose call ended with one.",
    )
    outcomes: list[ContactOutcome] = Field(
        default_factory=list,
        description="Every contact's outcome up to 10,000 contacts; above that the first "
        "5,000 and every problem outcome (error, unconfirmed, still_open, dialled twice). "
        "See outcomes_complete; the full list is the CSV at outcomes_csv.",
    )
    outcomes_complete: bool = Field(
        default=True,
        description="True when outcomes holds every contact's outcome; False: read the CSV at "
        "outcomes_csv for the full list.",
    )
    outcomes_csv: str | None = Field(
        default=None,
        description="The CSV of every contact's outcome, one row each, written as they "
        "happened: exports.csv_path, or a temporary file on the worker.",
    )
    outcomes_csv_temporary: bool = Field(
        default=False,
        description="outcomes_csv is a temporary file on the worker (no CSV path was given; "
        "masked numbers unless full_numbers): copy it before the worker goes away.",
    )
    duplicates: int = Field(default=0, description="Rows collapsed into an earlier same number.")
    warnings: list[str] = Field(default_factory=list)
    preview: CampaignPreview | None = Field(
        default=None, description="Dry run: the plan, with when the campaign would be done."
    )

    @model_validator(mode="before")
    @classmethod
    def _count_a_full_list(cls, data: Any) -> Any:
        """Built from a full list of outcomes (no counts given): the counts are that list's."""
        if isinstance(data, dict) and "counts" not in data and data.get("outcomes"):
            outcomes = [ContactOutcome.model_validate(o) for o in data["outcomes"]]
            counts = Counter(outcome_value(o.outcome) for o in outcomes)
            reasons = Counter(o.ended_reason for o in outcomes if o.ended_reason)
            data = {**data, "outcomes": outcomes, "counts": dict(counts.most_common())}
            data.setdefault("total", len(outcomes))
            data.setdefault("ended_reasons", dict(reasons.most_common()))
        return data

    def counts_in_words(self) -> str:
        """The counts for a person: ``3 completed, 1 no answer`` (empty without outcomes)."""
        return ", ".join(f"{n} {outcome_label(v)}" for v, n in self.counts.items())

    @property
    def dialled_twice(self) -> list[ContactOutcome]:
        """Contacts the ledger shows more than one call for under one dispatch key (all of
        them: problem outcomes are always kept)."""
        return [o for o in self.outcomes if o.duplicate_call_ids]

    def by_outcome(self, outcome: Outcome | str) -> list[ContactOutcome]:
        """The kept contacts with this outcome, however spelled (``"No Answer"`` finds
        ``no_answer``): all of them when ``outcomes_complete`` or for a problem outcome; else
        ``counts`` has how many and the CSV has them all."""
        wanted = outcome_value(to_outcome(outcome))
        return [o for o in self.outcomes if outcome_value(o.outcome) == wanted]

    def summary_table(self) -> str:
        """Counts by outcome as aligned plain text, for terminals and logs."""
        counts = self.counts
        width = max((len(k) for k in counts), default=7)
        lines = [f"{'outcome':<{width}}  count", f"{'-' * width}  -----"]
        lines += [f"{name:<{width}}  {count:>5}" for name, count in counts.items()]
        lines.append(f"{'total':<{width}}  {self.total:>5}")
        return "\n".join(lines)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "campaign_id", self.campaign_id
        yield "connection_code", self.connection_code
        yield "counts", self.counts


def rejected_outcomes(batch: ContactBatch) -> list[ContactOutcome]:
    """One outcome per rejected row (its messages joined); the value shown is masked."""
    by_row: dict[int, list[ContactRejection]] = {}
    for rejection in batch.rejected:
        by_row.setdefault(rejection.row, []).append(rejection)
    return [rejected_outcome(RejectedRow(row, found)) for row, found in by_row.items()]


def rejected_outcome(rejected: RejectedRow) -> ContactOutcome:
    """A rejected row's outcome: every reason joined, the number shown masked."""
    shown = next((r.value for r in rejected.rejections if r.field == "phone_number"), "")
    return ContactOutcome(
        row=rejected.row,
        phone_number=shown,
        outcome=Outcome.REJECTED,
        reason="; ".join(r.message for r in rejected.rejections),
    )
