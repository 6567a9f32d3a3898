"""The typed inputs and results of a call campaign.

Inputs are lenient on purpose (``ContactInput`` takes any strings) so that one bad row is
reported on its own instead of failing the run's parameter validation for every row. Results
carry full numbers only where a data team needs to join them back; every repr masks them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from casey_flows.client import Call, MaskedPhoneRepr, mask_phone

if TYPE_CHECKING:
    from casey_flows.campaign.contacts import ContactBatch


class ContactInput(MaskedPhoneRepr):
    """One contact as given to the flow (validated later, row by row)."""

    phone_number: str = Field(description="E.164, e.g. +14155550123 (spaces/dashes allowed).")
    name: str | None = Field(default=None, description="Who is called (<= 200 characters).")
    participant_id: str | None = Field(default=None, description="Participant uuid, optional.")
    timezone: str | None = Field(
        default=None, description="IANA zone of the contact, e.g. America/Chicago."
    )
    context: dict[str, Any] = Field(default_factory=dict, description="Data for the agent.")


# What happened to a contact, in words a person reads in a table.
OUTCOME_REJECTED = "rejected"
OUTCOME_SUPPRESSED = "suppressed"
OUTCOME_DEFERRED = "deferred"
OUTCOME_PLANNED = "planned"  # dry run: would be dialled now
OUTCOME_STILL_OPEN = "still open"  # stopped waiting; the call was not cancelled
OUTCOME_UNCONFIRMED = "unconfirmed"  # a create may have rung; never shown, not dialled again
OUTCOME_ERROR = "error"
OUTCOME_NOT_DIALLED = "not dialled"  # the campaign stopped (cancelled) before this contact


class ContactOutcome(MaskedPhoneRepr):
    """The end of one contact's story in this campaign run."""

    row: int | None = Field(default=None, description="Row in the input, if it came from one.")
    phone_number: str = Field(description="As dialled (E.164), or as given if rejected.")
    name: str | None = None
    outcome: str = Field(description="completed, no answer, busy, voicemail, failed, deferred…")
    status: str | None = Field(default=None, description="The call's last status, as sent.")
    ended_reason: str | None = None
    attempts: int = 0
    call_ids: list[str] = Field(default_factory=list)
    next_call_at: datetime | None = Field(
        default=None, description="Deferred: the next instant the calling window opens."
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
        outcome: str,
        *,
        last_call: Call | None = None,
        call_ids: list[str] | None = None,
        **fields: Any,
    ) -> ContactOutcome:
        """The outcome of one contact (anything with ``phone_number`` and ``name``), with the
        status and ended_reason of the last call placed for it, if any."""
        return cls(
            phone_number=contact.phone_number,
            name=contact.name,
            outcome=outcome,
            status=last_call.status if last_call else None,
            ended_reason=last_call.ended_reason if last_call else None,
            attempts=len(call_ids or ()),
            call_ids=list(call_ids or ()),
            **fields,
        )


class CampaignResult(BaseModel):
    """Every contact's outcome, plus counts; what ``call_campaign`` returns."""

    campaign_id: str
    connection_code: str
    dry_run: bool = False
    outcomes: list[ContactOutcome] = Field(default_factory=list)
    duplicates: int = Field(default=0, description="Rows collapsed into an earlier same number.")
    warnings: list[str] = Field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(o.outcome for o in self.outcomes).most_common())

    @property
    def dialled_twice(self) -> list[ContactOutcome]:
        """Contacts the ledger shows more than one call for under one dispatch key."""
        return [o for o in self.outcomes if o.duplicate_call_ids]

    def by_outcome(self, outcome: str) -> list[ContactOutcome]:
        return [o for o in self.outcomes if o.outcome == outcome]

    def summary_table(self) -> str:
        """Counts by outcome as aligned plain text, for terminals and logs."""
        counts = self.counts
        width = max((len(k) for k in counts), default=7)
        lines = [f"{'outcome':<{width}}  count", f"{'-' * width}  -----"]
        lines += [f"{name:<{width}}  {count:>5}" for name, count in counts.items()]
        lines.append(f"{'total':<{width}}  {len(self.outcomes):>5}")
        return "\n".join(lines)

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        yield "campaign_id", self.campaign_id
        yield "connection_code", self.connection_code
        yield "counts", self.counts


def rejected_outcomes(batch: ContactBatch) -> list[ContactOutcome]:
    """One outcome per rejected row (its messages joined); the value shown is masked."""
    by_row: dict[int, list[str]] = {}
    shown: dict[int, str] = {}
    for rejection in batch.rejected:
        by_row.setdefault(rejection.row, []).append(rejection.message)
        if rejection.field == "phone_number":
            shown[rejection.row] = rejection.value
    return [
        ContactOutcome(
            row=row,
            phone_number=shown.get(row, ""),
            outcome=OUTCOME_REJECTED,
            reason="; ".join(messages),
        )
        for row, messages in by_row.items()
    ]
