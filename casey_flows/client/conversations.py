"""Wire models of conversations: one conversation, a page of them, its fields, its transcript.

Lenient like ``Call``: documented fields typed, unknown fields kept, ``status`` an open string,
timestamps parsed without losing their text. The fields and transcript endpoints have no
documented shape: ``fields_from_data`` and ``transcript_from_data`` read every shape listed in
docs/client.md#conversations and raise ``UnexpectedShape`` only when nothing usable is there.

Reprs never show a full phone number: ``participant_profile``, field values and unknown fields
are shown with phone-like digit runs masked, and transcript text only by its length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from casey_flows.client.models import (
    KeepsRawInstants,
    MaskedPhoneRepr,
    as_text,
    parsed_instant,
    raw_instant,
)
from casey_flows.client.phone import mask_phone_runs
from casey_flows.client.status import normalize_status

logger = logging.getLogger(__name__)

# The documented vocabulary is pending | in_progress | completed | abandoned | archived; a
# conversation in one of these (normalised) will not change again. Unknown values are not final.
FINAL_CONVERSATION_STATUSES: frozenset[str] = frozenset({"completed", "abandoned", "archived"})

# Keys read as field_id / speaker / text when the canonical key is absent or null, in order.
FIELD_ID_KEYS = ("field_id", "id", "name", "key")
SPEAKER_KEYS = ("speaker", "role")
TEXT_KEYS = ("text", "content", "message")


class UnexpectedShape(ValueError):
    """A body that none of the known shapes fits. The message says what was expected and never
    quotes the body (it may hold answers or phone numbers)."""


# -- reprs ---------------------------------------------------------------------------------------


class _Shown:
    """A value already made safe to print, placed in a repr as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _masked(value: object) -> object:
    """The value's repr with every phone-like digit run masked."""
    return _Shown(mask_phone_runs(repr(value)))


def _sized(value: object) -> object:
    """Text and containers by size only: what a transcript holds is anybody's words."""
    if isinstance(value, str):
        return _Shown(f"<{len(value)} chars>")
    if isinstance(value, (list, tuple, dict)):
        return _Shown(f"<{type(value).__name__} of {len(value)}>")
    return _masked(value)


def _plain(value: object) -> object:
    return value


def _safe_repr_args(
    args: Iterable[tuple[str | None, Any]],
    shown: Mapping[str, Callable[[Any], object]],
    default: Callable[[Any], object],
) -> Iterator[tuple[str | None, Any]]:
    """Each field shown as ``shown`` says; any other one, extras included, via ``default``."""
    for key, value in args:
        yield key, shown.get(key or "", default)(value)


def _first_present(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((data[key] for key in keys if data.get(key) is not None), None)


# -- models --------------------------------------------------------------------------------------


class Conversation(MaskedPhoneRepr, KeepsRawInstants):
    """A conversation as the API returns it (``GET /conversations/{id}``).

    A call links to its conversation by ``Call.conversation_id``. ``status`` is an open string:
    unknown values are kept, and ``is_final`` is true only for the documented final ones.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    raw_instants = ("started_at", "completed_at")

    id: str
    connection_code: str | None = None
    agent_id: str | None = None
    status: str | None = None
    started_at: datetime | None = parsed_instant("started_at")
    started_at_raw: str | None = raw_instant("started_at")
    completed_at: datetime | None = parsed_instant("completed_at")
    completed_at_raw: str | None = raw_instant("completed_at")
    turn_count: int | None = None
    participant_profile: Any | None = None

    @field_validator("id", "connection_code", "agent_id", "status", mode="before")
    @classmethod
    def _open_text(cls, value: Any) -> Any:
        return as_text(value)

    @field_validator("turn_count", mode="before")
    @classmethod
    def _count_or_none(cls, value: Any) -> int | None:
        """A count that is not a whole number (``"many"``, ``2.5``) reads as None, not a crash."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().isdecimal():
            return int(value)
        return None

    @property
    def normalized_status(self) -> str | None:
        """``status`` with spelling normalised (``In-Progress`` -> ``in_progress``)."""
        return normalize_status(self.status)

    @property
    def is_final(self) -> bool:
        """True when the normalised status is in ``FINAL_CONVERSATION_STATUSES``."""
        return self.normalized_status in FINAL_CONVERSATION_STATUSES

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        return _safe_repr_args(super().__repr_args__(), _CONVERSATION_REPR, _masked)


# Documented fields that cannot hold a phone number are shown as they are; the profile and any
# unknown field may hold one.
_CONVERSATION_REPR = dict.fromkeys(set(Conversation.model_fields) - {"participant_profile"}, _plain)


class ConversationPage(BaseModel):
    """One page of ``GET /conversations`` and its documented cursor pagination.

    Pass ``next_cursor`` as ``after`` for the next page; a body without ``pagination`` is one
    page with ``has_more=False``.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    items: list[Conversation]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    has_more: bool = False

    @classmethod
    def from_envelope(cls, body: dict[str, Any]) -> ConversationPage:
        """Read ``{"data": [...], "pagination": {...}}``."""
        if not isinstance(body.get("data"), list):
            raise UnexpectedShape("conversations: expected a list in 'data'")
        pagination = body.get("pagination")
        if not isinstance(pagination, dict):
            pagination = {}
        has_more = pagination.get("has_more")
        return cls.model_validate(
            {
                "items": body["data"],
                "next_cursor": as_text(pagination.get("next_cursor")),
                "prev_cursor": as_text(pagination.get("prev_cursor")),
                "has_more": has_more is True or str(has_more).strip().lower() == "true",
            }
        )


class ConversationField(BaseModel):
    """One answer of a conversation, flattened to ``field_id`` and ``value`` (meant for CRMs).

    The shape is undocumented. An item naming its field ``id``, ``name`` or ``key`` instead of
    ``field_id`` is read too, and keeps that key; other keys (``updated_at``, ...) are kept.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    field_id: str
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _field_id_from_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("field_id") is None:
            found = _first_present(data, FIELD_ID_KEYS)
            if found is not None:
                return {**data, "field_id": found}
        return data

    @field_validator("field_id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return as_text(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        return _safe_repr_args(super().__repr_args__(), _FIELD_REPR, _masked)


_FIELD_REPR = {"field_id": _plain}


class TranscriptMessage(KeepsRawInstants):
    """One message of a conversation's transcript.

    The shape is undocumented. ``role`` is read as ``speaker`` and ``content`` or ``message`` as
    ``text`` when those are absent; the original keys are kept as well. A non-string value is
    kept as its JSON text. The repr shows the text's length (and any unknown field's size), never
    the text.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    raw_instants = ("timestamp",)

    speaker: str | None = None
    text: str | None = None
    timestamp: datetime | None = parsed_instant("timestamp")
    timestamp_raw: str | None = raw_instant("timestamp")

    @model_validator(mode="before")
    @classmethod
    def _read_aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {
                **data,
                "speaker": _first_present(data, SPEAKER_KEYS),
                "text": _first_present(data, TEXT_KEYS),
            }
        return data

    @field_validator("speaker", "text", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return as_text(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        return _safe_repr_args(super().__repr_args__(), _MESSAGE_REPR, _sized)


_MESSAGE_REPR = {
    "timestamp": _plain,
    "timestamp_raw": _plain,
    "speaker": _masked,
    "role": _masked,
}


# -- the undocumented shapes ---------------------------------------------------------------------


def fields_from_data(data: object) -> list[ConversationField]:
    """The answers in the ``data`` of ``GET /conversations/{id}/fields``.

    Reads a list of items (``[{"field_id": ..., "value": ...}, ...]``, or items naming the field
    ``id``/``name``/``key``) and a flat object (``{"<field_id>": value, ...}``; a value that is
    itself an object with a ``value`` key is read as that field's item). ``null`` is no fields.
    Items without any id are skipped (logged); raises ``UnexpectedShape`` when none is left.
    """
    if data is None:
        return []
    if isinstance(data, dict):
        return [ConversationField.model_validate(_keyed_item(k, v)) for k, v in data.items()]
    if not isinstance(data, list):
        raise UnexpectedShape(f"fields: expected a list or an object, got {type(data).__name__}")
    usable = [
        item
        for item in data
        if isinstance(item, dict) and _first_present(item, FIELD_ID_KEYS) is not None
    ]
    _check_usable("fields", "items with a field_id, id, name or key", len(usable), len(data))
    return [ConversationField.model_validate(item) for item in usable]


def _keyed_item(field_id: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "value" in value:
        return {**value, "field_id": field_id}
    return {"field_id": field_id, "value": value}


def transcript_from_data(data: object) -> list[TranscriptMessage]:
    """The messages in the ``data`` of ``GET /conversations/{id}/transcripts``, in order.

    Reads a list of messages, ``{"messages": [...]}``, and a list of transcripts each with
    ``messages`` (flattened in order). ``null`` is no messages. A message needs a speaker or a
    text (under any alias); others are skipped (logged); raises ``UnexpectedShape`` when none is
    left, or when ``data`` is none of these shapes.
    """
    if data is None:
        return []
    if isinstance(data, dict):
        if not isinstance(data.get("messages"), list):
            raise UnexpectedShape("transcripts: expected a list, or an object with 'messages'")
        data = data["messages"]
    if not isinstance(data, list):
        raise UnexpectedShape(f"transcripts: expected a list, got {type(data).__name__}")
    raw: list[Any] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("messages"), list):
            raw.extend(item["messages"])
        else:
            raw.append(item)
    messages = [TranscriptMessage.model_validate(m) for m in raw if isinstance(m, dict)]
    usable = [m for m in messages if m.speaker is not None or m.text is not None]
    _check_usable("transcripts", "messages with a speaker or a text", len(usable), len(raw))
    return usable


def _check_usable(what: str, expected: str, usable: int, seen: int) -> None:
    if seen and not usable:
        raise UnexpectedShape(f"{what}: none of {seen} item(s) are {expected}")
    if usable < seen:
        logger.warning(
            "casey: %s: skipped %d of %d item(s) that are not %s",
            what,
            seen - usable,
            seen,
            expected,
        )
