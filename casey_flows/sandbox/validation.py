"""Request validation exactly as the Casey docs state it, with messages safe to show anyone.

Hand-written rather than a pydantic model so that: unknown fields are ignored, each message
names its field, and no message ever contains a full phone number (``mask_phone``) or any other
user-supplied value verbatim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from casey_flows.client.phone import E164_PATTERN, is_e164, mask_phone
from casey_flows.sandbox.clock import parse_iso

NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(slots=True)
class CreateCallInput:
    phone_number: str
    name: str | None
    participant_id: str | None
    context: dict[str, Any] | None
    schedule_plan: Any
    earliest_at: float | None
    latest_at: float | None


def _kind(value: object) -> str:
    """Describe a value without echoing it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def validate_create(body: Any) -> tuple[CreateCallInput | None, list[FieldError]]:
    """Check a create-call body; returns the parsed input or the list of field errors."""
    if not isinstance(body, dict):
        return None, [FieldError("body", f"must be a JSON object (got {_kind(body)})")]
    errors: list[FieldError] = []

    phone = body.get("phone_number")
    if phone is None:
        errors.append(FieldError("phone_number", "is required"))
    elif not isinstance(phone, str):
        errors.append(FieldError("phone_number", f"must be a string (got {_kind(phone)})"))
    elif not is_e164(phone):
        errors.append(
            FieldError(
                "phone_number",
                f"must be E.164 matching {E164_PATTERN} (got '{mask_phone(phone)}')",
            )
        )

    name = body.get("name")
    if name is not None and not isinstance(name, str):
        errors.append(FieldError("name", f"must be a string (got {_kind(name)})"))
    elif isinstance(name, str) and len(name) > NAME_MAX:
        errors.append(
            FieldError("name", f"must be at most {NAME_MAX} characters (got {len(name)})")
        )

    participant_id = body.get("participant_id")
    if participant_id is not None:
        if not isinstance(participant_id, str):
            errors.append(
                FieldError("participant_id", f"must be a UUID string (got {_kind(participant_id)})")
            )
        else:
            try:
                uuid.UUID(participant_id)
            except ValueError:
                errors.append(
                    FieldError("participant_id", f"must be a UUID (got {_kind(participant_id)})")
                )

    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        errors.append(FieldError("context", f"must be a JSON object (got {_kind(context)})"))

    plan = body.get("schedule_plan")
    earliest, latest = None, None
    if isinstance(plan, dict):
        for key in ("earliest_at", "latest_at"):
            raw = plan.get(key)
            if raw is None:
                continue
            try:
                if not isinstance(raw, str):
                    raise ValueError
                parsed = parse_iso(raw)
            except (ValueError, OverflowError):
                errors.append(
                    FieldError(
                        f"schedule_plan.{key}",
                        f"must be an ISO-8601 timestamp (got {_kind(raw)})",
                    )
                )
                continue
            if key == "earliest_at":
                earliest = parsed
            else:
                latest = parsed

    if errors:
        return None, errors
    assert isinstance(phone, str)
    return (
        CreateCallInput(
            phone_number=phone,
            name=name,
            participant_id=participant_id,
            context=context,
            schedule_plan=plan,
            earliest_at=earliest,
            latest_at=latest,
        ),
        [],
    )
