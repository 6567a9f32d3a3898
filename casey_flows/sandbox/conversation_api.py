"""The ``/v1/backend/conversations`` routes: the list (cursor pages, newest first), one
conversation, its captured fields and its transcript.

Conversations belong to the API key's organisation; the sandbox has one, so every conversation
of every connection is listed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.conversations import ConversationRecord
from casey_flows.sandbox.gate import API_PREFIX
from casey_flows.sandbox.query_params import (
    AFTER,
    BEFORE,
    LIMIT,
    BoolQuery,
    TextQuery,
    documented,
)
from casey_flows.sandbox.routing import (
    BAD_REQUEST,
    INVALID_CURSOR,
    Responses,
    encode_cursor,
    read_cursors,
    request_id,
    sandbox_state,
    validation_error,
)
from casey_flows.sandbox.store import ConversationKey
from casey_flows.sandbox.validation import FieldError
from casey_flows.sandbox.wire import (
    ERROR_RESPONSES,
    ConversationEnvelope,
    ConversationFieldListEnvelope,
    ConversationListEnvelope,
    ErrorEnvelope,
    TranscriptEnvelope,
    error_response,
    json_response,
)

_CURSOR = "conv"
_NOT_FOUND: Responses = {
    404: {"model": ErrorEnvelope, "description": "unknown (or forgotten) conversation"}
}
_STATUS = TextQuery("status", "exact status filter", choices=v.CONVERSATION_STATUSES)
_ACTIVE_ONLY = BoolQuery(
    "active_only",
    "true: only the fields with a captured value; false: every field definition of the "
    "connection too, value null where not captured",
    default=True,
)

conversation_router = APIRouter(prefix=API_PREFIX, tags=["casey-backend"])


def _cursor(conversation: ConversationRecord) -> str:
    return encode_cursor(_CURSOR, f"{conversation.started_at}|{conversation.id}")


def _key(text: str) -> ConversationKey | None:
    started_at, separator, conversation_id = text.partition("|")
    return (started_at, conversation_id) if separator else None


@conversation_router.get(
    "/conversations",
    response_model=ConversationListEnvelope,
    responses={**BAD_REQUEST, **ERROR_RESPONSES},
    summary="List conversations (cursor pagination, newest first by started_at)",
    openapi_extra=documented(LIMIT, AFTER, BEFORE, _STATUS),
)
async def list_conversations(request: Request) -> Response:
    query = request.query_params
    limit, limit_error = LIMIT.read(query)
    status, status_error = _STATUS.read(query)
    cursors, cursor_errors = read_cursors(query, _CURSOR)
    keys = {name: _key(text) for name, text in cursors.items()}
    errors = [e for e in (limit_error, status_error) if e is not None]
    errors += cursor_errors
    errors += [FieldError(name, INVALID_CURSOR) for name, key in keys.items() if key is None]
    if errors:
        return validation_error(errors, request)
    before = keys.get("before")
    page = sandbox_state(request).store.conversations.page(limit, keys.get("after"), before, status)
    items = page.items
    next_cursor = _cursor(items[-1]) if items and page.more_older else None
    prev_cursor = _cursor(items[0]) if items and page.more_newer else None
    return json_response(
        {
            "data": [c.wire() for c in items],
            "pagination": {
                "has_more": page.more_newer if before is not None else page.more_older,
                "next_cursor": next_cursor,
                "prev_cursor": prev_cursor,
            },
        }
    )


def _conversation_or_404(request: Request, conversation_id: str) -> ConversationRecord | Response:
    conversation = sandbox_state(request).store.conversations.get(conversation_id)
    if conversation is None:
        return error_response(
            404, v.ERR_CONVERSATION_NOT_FOUND, "No conversation with that id.", request_id(request)
        )
    return conversation


@conversation_router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationEnvelope,
    responses={**_NOT_FOUND, **ERROR_RESPONSES},
    summary="Get one conversation",
)
async def get_conversation(conversation_id: str, request: Request) -> Response:
    conversation = _conversation_or_404(request, conversation_id)
    if isinstance(conversation, Response):
        return conversation
    return json_response({"data": conversation.wire()})


@conversation_router.get(
    "/conversations/{conversation_id}/fields",
    response_model=ConversationFieldListEnvelope,
    responses={**BAD_REQUEST, **_NOT_FOUND, **ERROR_RESPONSES},
    summary="A conversation's fields, ordered by field_id (captured when it ends)",
    openapi_extra=documented(_ACTIVE_ONLY),
)
async def get_conversation_fields(conversation_id: str, request: Request) -> Response:
    conversation = _conversation_or_404(request, conversation_id)
    if isinstance(conversation, Response):
        return conversation
    active_only, error = _ACTIVE_ONLY.read(request.query_params)
    if error is not None:
        return validation_error([error], request)
    rows = sandbox_state(request).conversations.fields(conversation, active_only)
    return json_response({"data": rows})


@conversation_router.get(
    "/conversations/{conversation_id}/transcripts",
    response_model=TranscriptEnvelope,
    responses={**_NOT_FOUND, **ERROR_RESPONSES},
    summary="A conversation's transcript, in order (written when it ends)",
)
async def get_conversation_transcript(conversation_id: str, request: Request) -> Response:
    conversation = _conversation_or_404(request, conversation_id)
    if isinstance(conversation, Response):
        return conversation
    return json_response({"data": conversation.transcript})
