"""The wire format: pydantic models that document it in /openapi.json, and the fast JSON
helpers the handlers actually use.

Handlers return pre-serialised ``Response`` objects (FastAPI then skips response-model
validation), which keeps the hot path cheap; the models below exist so the OpenAPI document
describes exactly what is sent. Tests check real responses against these models.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from casey_flows.sandbox.clock import iso_now

try:  # orjson ships with prefect; fall back to the stdlib if it is missing.
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment
    import json

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


JSON = "application/json"


class Call(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(description="uuid4")
    direction: str = Field(description='always "outbound" in the sandbox')
    connection_code: str
    name: str | None
    phone_number: str
    phone_call_provider: str
    conversation_id: str | None = Field(description="null until the call reaches in_progress")
    status: str = Field(
        description="scheduled | queued | ringing | in_progress | completed | busy | "
        "no_answer | failed"
    )
    ended_reason: str | None = Field(description="null until the call ends")
    context: dict[str, Any] | None = Field(description="echoed back exactly as sent")
    schedule_plan: Any = Field(default=None, description="stored verbatim")
    created_at: str
    updated_at: str


class CreateCallRequest(BaseModel):
    """Documented body of POST /connections/{code}/calls; unknown fields are ignored."""

    phone_number: str = Field(pattern=r"^\+[1-9]\d{1,14}$")
    name: str | None = Field(default=None, max_length=200)
    participant_id: uuid.UUID | None = None
    context: dict[str, Any] | None = None
    schedule_plan: Any = Field(
        default=None,
        description='stored verbatim; the sandbox honours {"earliest_at": ISO, "latest_at": ISO}',
    )


class Connection(BaseModel):
    model_config = ConfigDict(extra="allow")

    connection_code: str
    agent_id: str
    invite_type: str
    auth_style: str
    channel_type: str
    available_modes: list[str]
    default_mode: str
    max_uses: int | None
    expires_at: str | None
    created_at: str


class Conversation(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(description="uuid4; the conversation_id of the call that started it")
    connection_code: str
    agent_id: str | None = Field(description="the connection's agent_id")
    status: str = Field(
        description="in_progress, then completed or abandoned when its call ends "
        "(pending and archived are never produced)"
    )
    started_at: str = Field(description="when the call was answered")
    completed_at: str | None = Field(description="null while in_progress")
    turn_count: int = Field(description="transcript messages; 0 while in_progress")
    participant_profile: dict[str, Any] | None = Field(
        description="the call's context.participant_profile, else {name: its name}, else null"
    )


class ConversationField(BaseModel):
    field_id: str
    value: Any = Field(description="the captured answer; null where not captured")
    updated_at: str = Field(description="when captured, else when the field was defined")


class TranscriptMessage(BaseModel):
    speaker: str = Field(description="agent | participant")
    text: str
    timestamp: str


class Pagination(BaseModel):
    has_more: bool
    next_cursor: str | None
    prev_cursor: str | None


class CallEnvelope(BaseModel):
    data: Call


class CallListEnvelope(BaseModel):
    data: list[Call]


class ConnectionEnvelope(BaseModel):
    data: Connection


class ConnectionListEnvelope(BaseModel):
    data: list[Connection]
    pagination: Pagination


class ConversationEnvelope(BaseModel):
    data: Conversation


class ConversationListEnvelope(BaseModel):
    data: list[Conversation]
    pagination: Pagination


class ConversationFieldListEnvelope(BaseModel):
    data: list[ConversationField]


class TranscriptEnvelope(BaseModel):
    data: list[TranscriptMessage]


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    details: list[dict[str, str]] | None = None


class Meta(BaseModel):
    request_id: str
    timestamp: str


class ErrorEnvelope(BaseModel):
    error: ErrorBody
    meta: Meta | None = None


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(payload), status_code=status, media_type=JSON, headers=headers)


def error_payload(
    code: str, message: str, request_id: str | None, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error, "meta": {"request_id": request_id, "timestamp": iso_now()}}


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str | None,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response(error_payload(code, message, request_id, details), status, headers)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope, "description": "missing, invalid or live API key"},
    429: {"model": ErrorEnvelope, "description": "rate limited; see the Retry-After header"},
    500: {"model": ErrorEnvelope, "description": "internal (or injected) error"},
    503: {"model": ErrorEnvelope, "description": "injected unavailability"},
}
