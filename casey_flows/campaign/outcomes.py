"""One vocabulary for what happened to a contact or a call: :class:`Outcome`.

``ContactOutcome.outcome``, ``CampaignResult.counts``, the CSV export, the events, the
warehouse's ``calls.outcome`` column and ``retry_outcomes`` all speak these snake_case values;
people read :attr:`Outcome.label` (``no answer``) in markdown and state messages only. Casey
documents no call status, so a status we do not know passes through in its normalised spelling
(``No-Answer`` -> ``no_answer``): an outcome is ``Outcome | str``, and it is written out as its
value (:func:`outcome_value`), never ``str(member)``.

A leaf (the client's models only, no Prefect), so the tasks and the warehouse read it too.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from casey_flows.client.models import Call
from casey_flows.client.status import normalize_status

# Why a contact was not dialled (again) after a cancel: the engine's and the unread rows' reason.
STOPPED = "the campaign was stopped (cancelled) first"


class Outcome(str, Enum):
    """What happened to a contact (or a call): the values written to CSVs, events and tables.

    A ``str`` mixin (``StrEnum`` is Python 3.11+): ``Outcome.NO_ANSWER == "no_answer"``.
    """

    # How a call ended: its normalised status (voicemail: from its ended_reason).
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"
    # What a campaign decided instead of dialling, or how it left a contact.
    DEFERRED = "deferred"  # the calling window was closed at the contact's turn
    SUPPRESSED = "suppressed"  # on the suppression list, or opted out on an earlier call
    EXCLUDED = "excluded"  # a line type the campaign does not dial (line_types)
    REJECTED = "rejected"  # an invalid row, never sent
    ERROR = "error"  # this contact's own API error, or a call the API stopped knowing
    STILL_OPEN = "still_open"  # stopped waiting; the call was not cancelled
    NOT_DIALLED = "not_dialled"  # the campaign stopped (cancelled) before this contact
    UNCONFIRMED = "unconfirmed"  # a create may have rung; never shown, not dialled again
    PLANNED = "planned"  # dry run: would be dialled now
    # place_call only.
    DISPATCHED = "dispatched"  # placed without waiting for the end
    LOST = "lost"  # the API stopped knowing the call; it is not placed again

    @property
    def label(self) -> str:
        """Words for a person: ``no answer``, ``still open``, ``not dialled``."""
        return _words(self.value)

    def __str__(self) -> str:
        # The value in str() and f-strings on every Python (3.12 changed format() of mixins).
        return self.value


def to_outcome(value: Outcome | str) -> Outcome | str:
    """The member for a known outcome however spelled (``No Answer``, ``no-answer``), else the
    value normalised the way statuses are (``Left-Message`` -> ``left_message``)."""
    if isinstance(value, Outcome):
        return value
    normalized = normalize_status(value) or ""
    try:
        return Outcome(normalized)
    except ValueError:
        return normalized


def outcome_value(outcome: Outcome | str) -> str:
    """The value written out (CSV, JSON, events, warehouse): ``no_answer``."""
    return outcome.value if isinstance(outcome, Outcome) else outcome


def outcome_label(outcome: Outcome | str) -> str:
    """Words for markdown and messages: ``no answer`` for ``Outcome.NO_ANSWER`` or its value;
    an unknown status the same way (``left message``)."""
    known = to_outcome(outcome)
    return known.label if isinstance(known, Outcome) else _words(known)


def describe_outcome(call: Call) -> Outcome | str:
    """The outcome of a call: ``voicemail`` when its ended_reason says so, else its status
    (``Outcome.NO_ANSWER``...); an unknown status is kept, normalised (``left_message``)."""
    if normalize_status(call.ended_reason) == Outcome.VOICEMAIL.value:
        return Outcome.VOICEMAIL
    return to_outcome(call.normalized_status or "unknown")


def _words(value: str) -> str:
    return value.replace("_", " ")


def _validate(value: object) -> object:
    return to_outcome(value) if isinstance(value, str) else value  # anything else: rejected


# A model field holding an outcome: validated with to_outcome, serialised as the plain value.
OutcomeField = Annotated[
    Outcome | str,
    BeforeValidator(_validate),
    PlainSerializer(outcome_value, return_type=str),
]
