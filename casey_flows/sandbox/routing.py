"""What every ``/v1/backend`` route module shares: a request's state and id, the 400 envelope,
and opaque cursors.

In one place so that the call, connection and conversation routes validate, document and page
the same way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, cast

from fastapi import Request
from starlette.responses import Response

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.state import SandboxState
from casey_flows.sandbox.validation import FieldError
from casey_flows.sandbox.wire import ErrorEnvelope, error_response

# What FastAPI's ``responses=`` takes: extra documented answers by status.
Responses = dict[int | str, dict[str, Any]]

BAD_REQUEST: Responses = {400: {"model": ErrorEnvelope, "description": "validation error"}}
INVALID_CURSOR = "is not a valid cursor for this listing"


# A Starlette scope and app state hold untyped values: these two say what we put there.
def request_id(request: Request) -> str | None:
    return cast("str | None", request.scope.get("state", {}).get("request_id"))


def sandbox_state(request: Request) -> SandboxState:
    return cast(SandboxState, request.app.state.sandbox)


def validation_error(errors: list[FieldError], request: Request) -> Response:
    """The 400 for invalid input: every field error at once, in the message and in details."""
    message = "Invalid request: " + "; ".join(f"{e.field} {e.message}" for e in errors)
    return error_response(
        400, v.ERR_VALIDATION, message, request_id(request), [e.as_dict() for e in errors]
    )


def encode_cursor(kind: str, key: str) -> str:
    """An opaque cursor for the item ``key`` of a listing of ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str | None:
    """The key inside a cursor of ``kind``, or None if it is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix = f"{kind}:"
    return text[len(prefix) :] if text.startswith(prefix) else None


def read_cursors(query: Mapping[str, str], kind: str) -> tuple[dict[str, str], list[FieldError]]:
    """The keys inside the ``after`` / ``before`` cursors given (by parameter name), and what is
    wrong with them: both at once, or one that is not a cursor of ``kind``."""
    keys: dict[str, str] = {}
    errors: list[FieldError] = []
    if "after" in query and "before" in query:
        errors.append(FieldError("before", "cannot be combined with after"))
    for name in ("after", "before"):
        cursor = query.get(name)
        if cursor is None:
            continue
        key = decode_cursor(kind, cursor)
        if key is None:
            errors.append(FieldError(name, INVALID_CURSOR))
        else:
            keys[name] = key
    return keys, errors
