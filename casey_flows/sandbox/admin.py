"""Admin routes under ``/_sandbox``: stats, reset, runtime faults and list lag, forcing an
outcome, adding a field definition, forgetting a conversation.

Not in /openapi.json: they are tooling for tests and demos, not part of the emulated Casey API.
Open on loopback; with an admin token set, and always off loopback, ``admin_auth`` guards them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from starlette.responses import Response

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.config import FaultSettings, ListLagSeconds
from casey_flows.sandbox.wire import error_response, json_response

ADMIN_PREFIX = "/_sandbox"

admin_router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


class ForceOutcome(BaseModel):
    outcome: str = Field(default="completed", description="a key of sandbox.vocabulary.OUTCOMES")


class ListLag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: ListLagSeconds


class NewFieldDefinition(BaseModel):
    """A field the connection's conversations answer, with one of ``values`` drawn uniformly."""

    model_config = ConfigDict(extra="forbid")

    field_id: str = Field(min_length=1, max_length=200)
    values: list[StrictStr | StrictBool | StrictInt | StrictFloat] = Field(min_length=1)


def _state(request: Request) -> Any:
    return request.app.state.sandbox


@admin_router.get("/health")
async def health(request: Request) -> Response:
    return json_response({"ok": True})


@admin_router.get("/stats")
async def stats(request: Request) -> Response:
    return json_response(_state(request).snapshot())


@admin_router.post("/reset")
async def reset(request: Request) -> Response:
    _state(request).reset()
    return json_response({"ok": True})


@admin_router.get("/faults")
async def get_faults(request: Request) -> Response:
    return json_response(_state(request).faults.settings.model_dump())


@admin_router.put("/faults")
async def put_faults(request: Request) -> Response:
    """Replace all fault settings (fields left out go back to 'off')."""
    try:
        settings = FaultSettings.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        return error_response(400, v.ERR_VALIDATION, str(exc), None)
    _state(request).faults.replace(settings)
    return json_response(settings.model_dump())


@admin_router.get("/list-lag")
async def get_list_lag(request: Request) -> Response:
    return json_response({"seconds": _state(request).store.list_lag_s})


@admin_router.put("/list-lag")
async def put_list_lag(request: Request) -> Response:
    """Set the list lag now (body ``{"seconds": 1.5}``); it applies to calls already created
    too, so 0 shows every call at once, like a replica that has caught up."""
    try:
        body = ListLag.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        return error_response(400, v.ERR_VALIDATION, str(exc), None)
    _state(request).store.list_lag_s = body.seconds
    return json_response(body.model_dump())


@admin_router.get("/config")
async def get_config(request: Request) -> Response:
    """The config the sandbox started with; runtime faults and list lag have their own routes."""
    config = _state(request).config
    data = config.model_dump(exclude={"api_keys", "admin_token"})
    # Never show the secrets themselves, only whether they are set.
    data["api_keys_configured"] = len(config.api_keys)
    data["admin_token_configured"] = config.admin_token is not None
    return json_response(data)


@admin_router.post("/calls/{call_id}/complete")
async def force_complete(call_id: str, request: Request) -> Response:
    """End a live call now with a chosen outcome (body ``{"outcome": "busy"}``)."""
    state = _state(request)
    raw = await request.body()
    try:
        body = ForceOutcome.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        return error_response(400, v.ERR_VALIDATION, str(exc), None)
    if body.outcome not in v.OUTCOMES:
        return error_response(
            400, v.ERR_VALIDATION, f"outcome must be one of {sorted(v.OUTCOMES)}", None
        )
    record = state.store.calls.get(call_id)
    if record is None:
        return error_response(404, v.ERR_CALL_NOT_FOUND, "No call with that id.", None)
    state.engine.force(record, body.outcome)
    return json_response({"data": record.wire()})


@admin_router.post("/connections/{code}/field-definitions")
async def add_field_definition(code: str, request: Request) -> Response:
    """Add (or replace) a field definition; conversations ending from now on answer it (body
    ``{"field_id": "callback_day", "values": ["monday", "friday"]}``)."""
    state = _state(request)
    try:
        body = NewFieldDefinition.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        return error_response(400, v.ERR_VALIDATION, str(exc), None)
    if code not in state.store.connections:
        return error_response(
            404, v.ERR_CONNECTION_NOT_FOUND, f"No connection with code '{code}'.", None
        )
    definitions = state.conversations.define(code, body.field_id, body.values)
    return json_response({"data": [d.wire() for d in definitions]})


@admin_router.delete("/conversations/{conversation_id}")
async def forget_conversation(conversation_id: str, request: Request) -> Response:
    """Forget a conversation: its three routes answer 404, its call keeps the conversation_id
    (to test how a loader handles a conversation that is gone)."""
    if not _state(request).forget_conversation(conversation_id):
        return error_response(
            404, v.ERR_CONVERSATION_NOT_FOUND, "No conversation with that id.", None
        )
    return json_response({"ok": True})
