"""What one call, conversation, field or transcript message becomes as a warehouse row.

Pure functions (no dlt, no HTTP), so the table shapes are tested on their own. Rows keep the
API's data as it is: unknown fields stay, nested objects (``context``, ``participant_profile``)
load as JSON columns, and nothing is masked or spreadsheet-escaped (that is for CSV exports).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from casey_flows.campaign.outcomes import describe_outcome, outcome_value
from casey_flows.campaign.phone_numbers import line_type_of
from casey_flows.client.models import Call, as_text, parse_instant
from casey_flows.core.dispatch import campaign_id_of, dispatch_key_of

# Parsed instants load as timestamps; the raw text is kept only when it could not be parsed.
_RAW_SUFFIX = "_raw"


def model_row(model: BaseModel) -> dict[str, Any]:
    """The model's fields and every extra field the API sent, ``*_raw`` twins folded away."""
    row = model.model_dump()
    for key in [k for k in row if k.endswith(_RAW_SUFFIX)]:
        if row.get(key.removesuffix(_RAW_SUFFIX)) is not None:
            del row[key]
    return row


def call_row(
    call: Call, *, is_final: bool, synced_at: datetime, connection_code: str | None = None
) -> dict[str, Any]:
    """One ``calls`` row: the call, plus the dispatch key and campaign id from its context;
    ``connection_code`` (the connection it was listed on) when the API left it out; and, once
    final, its ``outcome`` as a campaign's CSV and ``retry_outcomes`` spell it (``no_answer``,
    ``voicemail``, or an unknown status normalised), null while the call is open; and the
    ``line_type`` libphonenumber gives the number the call was placed to (the API stores E.164,
    so no region is needed; ``unknown`` when it is no valid number). Derived from the number as
    it is loaded: it says nothing of porting, nor of what the line was when the call rang."""
    return {
        **model_row(call),
        "connection_code": call.connection_code or connection_code,
        "dispatch_key": dispatch_key_of(call),
        "campaign_id": campaign_id_of(call),
        "outcome": outcome_value(describe_outcome(call)) if is_final else None,
        "line_type": line_type_of(call.phone_number) if call.phone_number else None,
        "is_final": is_final,
        "synced_at": synced_at,
    }


def conversation_row(
    conversation: BaseModel, *, call_id: str, is_final: bool, synced_at: datetime
) -> dict[str, Any]:
    """One ``conversations`` row, linked back to the call that opened it."""
    return {
        **model_row(conversation),
        "call_id": call_id,
        "is_final": is_final,
        "synced_at": synced_at,
    }


def field_rows(
    conversation_id: str,
    call_id: str,
    fields: list[BaseModel],
    *,
    connection_code: str | None = None,
) -> list[dict[str, Any]]:
    """``conversation_fields``: one row per conversation and field (the long shape), with the
    connection, so opt-outs and answers can be scoped per connection.

    ``value`` keeps the JSON value; ``value_text`` is the same as text, so a query can compare
    answers without knowing each field's type.
    """
    return [
        {
            **model_row(field),
            "conversation_id": conversation_id,
            "call_id": call_id,
            "connection_code": connection_code,
            "value_text": as_text(getattr(field, "value", None)),
        }
        for field in fields
    ]


def answers_rows(field_rows_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``conversation_answers``: one row per conversation, one column per field (the wide shape).

    Built from the long rows. A field first seen today becomes a new column: dlt evolves the
    table. (dlt normalises column names, e.g. ``Preferred Time`` -> ``preferred_time``.)
    """
    by_conversation: dict[str, dict[str, Any]] = {}
    for row in field_rows_:
        answers = by_conversation.setdefault(
            row["conversation_id"],
            {"conversation_id": row["conversation_id"], "call_id": row.get("call_id")},
        )
        field_id = row.get("field_id")
        if isinstance(field_id, str) and field_id and field_id not in answers:
            answers[field_id] = row.get("value")
    return list(by_conversation.values())


def opt_out_row(
    field_row: dict[str, Any], *, connection_code: str, phone_number: str
) -> dict[str, Any]:
    """``opt_outs``: a number that asked for no more calls on a connection, and where it did."""
    return {
        "connection_code": connection_code,
        "phone_number": phone_number,
        "call_id": field_row.get("call_id"),
        "conversation_id": field_row.get("conversation_id"),
        "opted_out_at": parse_instant(field_row.get("updated_at")),
    }


def message_rows(conversation_id: str, messages: list[BaseModel]) -> list[dict[str, Any]]:
    """``transcript_messages``: one row per message, numbered in the order the API sent them."""
    return [
        {**model_row(message), "conversation_id": conversation_id, "seq": seq}
        for seq, message in enumerate(messages)
    ]


def is_truthy_answer(value: Any) -> bool:
    """Whether a field's value means "yes" (``true``, ``"yes"``, ``"true"``, ``1``...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in {"yes", "y", "true", "1", "opt_out", "opted_out"}
    return False
