"""Wire models of the Casey API.

Requests are strict (exactly the documented rules, checked before a byte is sent). Responses
are lenient: every documented field, unknown extra fields kept, open strings for the
undocumented vocabularies, and timestamps parsed when possible without losing the raw text
(``KeepsRawInstants``, shared with the conversation models).
Reprs mask phone numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar, TypedDict
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from casey_flows.client.errors import InvalidRequestError
from casey_flows.client.phone import E164_PATTERN, is_e164, mask_phone
from casey_flows.client.status import DEFAULT_TERMINAL_STATUSES, normalize_status

NAME_MAX_LENGTH = 200


class MaskedPhoneRepr(BaseModel):
    """Shows ``phone_number`` masked in repr/str, wherever a model is printed or logged.

    The one base for every model that carries a number (requests, calls, contacts, outcomes).
    """

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():
            if key == "phone_number" and value is not None:
                yield key, mask_phone(value)
            else:
                yield key, value


class CallFields(TypedDict, total=False):
    """The optional fields of a create-call request, as keyword arguments."""

    name: str | None
    participant_id: str | UUID | None
    context: dict[str, Any] | None
    schedule_plan: Any | None


class CallRequest(MaskedPhoneRepr):
    """The body of ``POST /connections/{code}/calls``, validated as documented."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone_number: str = Field(
        description="Number to call, in E.164 form (+ then 2 to 15 digits).",
        json_schema_extra={"pattern": E164_PATTERN},
    )
    name: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    participant_id: UUID | None = None
    context: dict[str, Any] | None = None
    schedule_plan: Any | None = None

    @field_validator("phone_number")
    @classmethod
    def _check_e164(cls, value: str) -> str:
        if not is_e164(value):
            raise ValueError("must be E.164: '+' then 2 to 15 digits, no spaces")
        return value

    @classmethod
    def build(cls, **fields: Any) -> CallRequest:
        """Validate, raising InvalidRequestError that names the field and masks the value.

        pydantic's own ValidationError prints the input value in full; a phone number must not
        reach a log that way.
        """
        try:
            return cls(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "request"
            raw = fields.get(field, first.get("input"))
            shown = mask_phone(raw) if field == "phone_number" else _short(raw)
            raise InvalidRequestError(
                f"invalid {field} {shown}: {_reason(first)}",
                field=field,
                code="client_validation",
            ) from None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: only fields that were given, uuids as strings."""
        return self.model_dump(mode="json", exclude_none=True)


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(error: Any) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


class KeepsRawInstants(BaseModel):
    """Timestamps parsed when they are ISO-8601, with the text exactly as sent kept beside them.

    Casey documents no timestamp format. For each name in ``raw_instants`` a subclass declares
    ``<name>: datetime | None`` (parsed, else None) and ``<name>_raw: str | None`` (the value as
    sent; a non-string value as its JSON text), so an odd format is never fatal and never lost.
    """

    raw_instants: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names = (f for name in cls.raw_instants for f in (name, f"{name}_raw"))
        missing = [name for name in names if name not in cls.model_fields]
        if missing:
            raise TypeError(f"{cls.__name__} lists raw_instants without fields {missing}")

    @model_validator(mode="before")
    @classmethod
    def _keep_raw_instants(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls.raw_instants:
            return data
        data = dict(data)
        for name in cls.raw_instants:
            if f"{name}_raw" in data:  # already split, e.g. a model_dump read back
                continue
            value = data.get(name)
            if isinstance(value, datetime):  # built in Python rather than read from the wire
                data[f"{name}_raw"] = value.isoformat()
            else:
                data[f"{name}_raw"] = as_text(value)
                data[name] = parse_instant(value)
        return data


def parsed_instant(name: str) -> Any:
    """The ``Field`` of a timestamp listed in ``raw_instants``."""
    return Field(default=None, description=f"Parsed from {name}_raw if it is ISO-8601; else None.")


def raw_instant(name: str) -> Any:
    """The ``Field`` of the text kept beside a timestamp listed in ``raw_instants``."""
    return Field(default=None, description=f"{name} exactly as sent (JSON text if not a string).")


def as_text(value: object) -> str | None:
    """A string as is, None as None, anything else as its JSON text (nothing lost, no crash)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


class Call(MaskedPhoneRepr, KeepsRawInstants):
    """A call as the API returns it. Open strings for status, ended_reason, provider."""

    model_config = ConfigDict(extra="allow", frozen=True)
    raw_instants = ("created_at",)

    id: str
    direction: str | None = None
    connection_code: str | None = None
    name: str | None = None
    phone_number: str | None = None
    phone_call_provider: str | None = None
    conversation_id: str | None = None
    status: str | None = None
    ended_reason: str | None = None
    context: Any | None = None
    created_at: datetime | None = parsed_instant("created_at")
    created_at_raw: str | None = raw_instant("created_at")

    @property
    def normalized_status(self) -> str | None:
        """``status`` with spelling normalised (``No-Answer`` -> ``no_answer``)."""
        return normalize_status(self.status)

    def is_terminal(self, terminal_statuses: frozenset[str] = DEFAULT_TERMINAL_STATUSES) -> bool:
        """True when the normalised status is in ``terminal_statuses`` (normalised names)."""
        return self.normalized_status in terminal_statuses


def parse_instant(raw: object) -> datetime | None:
    """Lenient ISO-8601: with or without offset, ``Z`` accepted; anything else gives None."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


class Connection(BaseModel):
    """A connection. Which field marks a call_out one is undocumented: we read channel_type."""

    model_config = ConfigDict(extra="allow", frozen=True)

    connection_code: str
    agent_id: str | None = None
    invite_type: str | None = None
    auth_style: str | None = None
    channel_type: str | None = None
    available_modes: list[str] | None = None
    default_mode: str | None = None
    max_uses: int | None = None
    expires_at: str | None = None
    created_at: str | None = None

    @property
    def is_call_out(self) -> bool:
        """Our assumption (docs/assumptions.md): ``channel_type`` normalises to call_out."""
        return normalize_status(self.channel_type) == "call_out"
