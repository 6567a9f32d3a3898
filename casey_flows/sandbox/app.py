"""The FastAPI application: the documented ``/v1/backend`` call and connection routes (the
conversation routes are in ``conversation_api``), wired to one SandboxState.

``create_app(config)`` builds a fresh, independent app each time (tests run several at once).
Handlers return pre-serialised responses; the declared response models only feed /openapi.json.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.admin import admin_router
from casey_flows.sandbox.admin_auth import AdminTokenGate
from casey_flows.sandbox.config import ConnectionSpec, SandboxConfig
from casey_flows.sandbox.conversation_api import conversation_router
from casey_flows.sandbox.faults import AMBIGUOUS_5XX, AMBIGUOUS_DROP, ConnectionDropFault
from casey_flows.sandbox.gate import API_PREFIX, BackendGate
from casey_flows.sandbox.query_params import AFTER, BEFORE, LIMIT, IntQuery, TextQuery, documented
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
from casey_flows.sandbox.state import SandboxState
from casey_flows.sandbox.validation import (
    FieldError,
    validate_create,
)
from casey_flows.sandbox.wire import (
    ERROR_RESPONSES,
    CallEnvelope,
    CallListEnvelope,
    ConnectionEnvelope,
    ConnectionListEnvelope,
    CreateCallRequest,
    ErrorEnvelope,
    dumps,
    error_response,
    json_response,
)

json_loads: Callable[[bytes], Any]  # what either parser is used as
try:
    from orjson import loads as json_loads
except ImportError:  # pragma: no cover
    from json import loads as json_loads


class DroppedResponse(Response):
    """Sends the head (with the full Content-Length) and half the body, then fails, so the
    server closes the connection: the client sees a broken response, not a clean error."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = self.body[: max(1, len(self.body) // 2)]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise ConnectionDropFault("injected ambiguous drop after create")


class _QuietDrops(logging.Filter):
    """Keep uvicorn from printing a traceback for every injected connection drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropFault)


def _install_log_filter() -> None:
    uv_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in uv_logger.filters):
        uv_logger.addFilter(_QuietDrops())


def _connection_or_error(
    state: SandboxState, code: str, request: Request, need_call_out: bool
) -> ConnectionSpec | Response:
    conn = state.store.connections.get(code)
    if conn is None:
        return error_response(
            404,
            v.ERR_CONNECTION_NOT_FOUND,
            f"No connection with code '{code}'.",
            request_id(request),
        )
    if need_call_out and conn.channel_type != v.CALL_OUT_CHANNEL:
        return error_response(
            409,
            v.ERR_NOT_CALL_OUT,
            f"Connection '{code}' is not a call_out connection (channel_type "
            f"'{conn.channel_type}'); calls need a connection with channel_type 'call_out'.",
            request_id(request),
        )
    return conn


_NOT_FOUND: Responses = {404: {"model": ErrorEnvelope, "description": "unknown connection or call"}}
_NOT_CALL_OUT: Responses = {
    409: {"model": ErrorEnvelope, "description": "connection is not call_out"}
}

_CONNECTION_CURSOR = "conn"


def _connection_cursor(connection: ConnectionSpec) -> str:
    return encode_cursor(_CONNECTION_CURSOR, connection.connection_code)


router = APIRouter(prefix=API_PREFIX, tags=["casey-backend"])

_OFFSET = IntQuery("offset", "calls to skip", default=0, minimum=0)
_CALL_STATUS = TextQuery("status", "exact status filter (free text)")
_AGENT_ID = TextQuery("agent_id", "exact agent_id filter")


@router.get(
    "/connections/{code}/calls",
    response_model=CallListEnvelope,
    responses={**BAD_REQUEST, **_NOT_FOUND, **_NOT_CALL_OUT, **ERROR_RESPONSES},
    summary="List outbound calls (newest first, offset paging)",
    openapi_extra=documented(LIMIT, _OFFSET, _CALL_STATUS),
)
async def list_calls(code: str, request: Request) -> Response:
    state = sandbox_state(request)
    conn = _connection_or_error(state, code, request, need_call_out=True)
    if isinstance(conn, Response):
        return conn
    query = request.query_params
    limit, e1 = LIMIT.read(query)
    offset, e2 = _OFFSET.read(query)
    status, e3 = _CALL_STATUS.read(query)
    errors = [e for e in (e1, e2, e3) if e is not None]
    if errors:
        return validation_error(errors, request)
    records = state.store.page(code, limit, offset, status)
    return json_response({"data": [r.wire() for r in records]})


@router.post(
    "/connections/{code}/calls",
    status_code=201,
    response_model=CallEnvelope,
    responses={**BAD_REQUEST, **_NOT_FOUND, **_NOT_CALL_OUT, **ERROR_RESPONSES},
    summary="Create and dispatch an outbound call",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CreateCallRequest.model_json_schema()}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "recorded in /_sandbox/stats but NOT honoured (like the real API)",
                "schema": {"type": "string"},
            }
        ],
    },
)
async def create_call(code: str, request: Request) -> Response:
    state = sandbox_state(request)
    conn = _connection_or_error(state, code, request, need_call_out=True)
    if isinstance(conn, Response):
        return conn
    raw = await request.body()
    try:
        body = json_loads(raw)
    except ValueError:
        return error_response(
            400, v.ERR_INVALID_JSON, "The request body is not valid JSON.", request_id(request)
        )
    data, errors = validate_create(body)
    if data is None:
        return validation_error(errors, request)
    if state.faults.take_lost_create():
        return error_response(
            500, v.ERR_INTERNAL, "An internal error occurred.", request_id(request)
        )
    record = state.create_call(code, data, request.headers.get("idempotency-key"))
    fault = state.faults.take_ambiguous()
    if fault == AMBIGUOUS_5XX:
        return error_response(
            500, v.ERR_INTERNAL, "An internal error occurred.", request_id(request)
        )
    payload = dumps({"data": record.wire()})
    if fault == AMBIGUOUS_DROP:
        return DroppedResponse(payload, status_code=201, media_type="application/json")
    return Response(payload, status_code=201, media_type="application/json")


@router.get(
    "/connections/{code}/calls/{call_id}",
    response_model=CallEnvelope,
    responses={**_NOT_FOUND, **_NOT_CALL_OUT, **ERROR_RESPONSES},
    summary="Get one call",
)
async def get_call(code: str, call_id: str, request: Request) -> Response:
    state = sandbox_state(request)
    conn = _connection_or_error(state, code, request, need_call_out=True)
    if isinstance(conn, Response):
        return conn
    record = state.store.get(code, call_id)
    if record is None:
        return error_response(
            404,
            v.ERR_CALL_NOT_FOUND,
            f"No call with that id on connection '{code}'.",
            request_id(request),
        )
    return json_response({"data": record.wire()})


@router.get(
    "/connections",
    response_model=ConnectionListEnvelope,
    responses={**BAD_REQUEST, **ERROR_RESPONSES},
    summary="List connections (cursor pagination, oldest first)",
    openapi_extra=documented(LIMIT, AFTER, BEFORE, _AGENT_ID),
)
async def list_connections(request: Request) -> Response:
    state = sandbox_state(request)
    query = request.query_params
    limit, err = LIMIT.read(query)
    agent_id, _ = _AGENT_ID.read(query)
    cursors, errors = read_cursors(query, _CONNECTION_CURSOR)
    if err is not None:
        errors.insert(0, err)
    items = list(state.store.connections.values())
    if agent_id is not None:
        items = [c for c in items if c.agent_id == agent_id]
    codes = [c.connection_code for c in items]
    anchor_index: int | None = None
    for name, code in cursors.items():
        if code in codes:
            anchor_index = codes.index(code)
        else:
            errors.append(FieldError(name, INVALID_CURSOR))
    if errors:
        return validation_error(errors, request)
    before = "before" in cursors
    if before and anchor_index is not None:
        end = anchor_index
        start = max(0, end - limit)
    else:
        start = 0 if anchor_index is None else anchor_index + 1
        end = min(len(items), start + limit)
    page = items[start:end]
    next_cursor = _connection_cursor(page[-1]) if page and end < len(items) else None
    prev_cursor = _connection_cursor(page[0]) if page and start > 0 else None
    has_more = (prev_cursor if before else next_cursor) is not None
    return json_response(
        {
            "data": [c.model_dump() for c in page],
            "pagination": {
                "has_more": has_more,
                "next_cursor": next_cursor,
                "prev_cursor": prev_cursor,
            },
        }
    )


@router.get(
    "/connections/{code}",
    response_model=ConnectionEnvelope,
    responses={**_NOT_FOUND, **ERROR_RESPONSES},
    summary="Get one connection",
)
async def get_connection(code: str, request: Request) -> Response:
    conn = _connection_or_error(sandbox_state(request), code, request, need_call_out=False)
    if isinstance(conn, Response):
        return conn
    return json_response({"data": conn.model_dump()})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: v.ERR_NOT_FOUND, 405: v.ERR_METHOD_NOT_ALLOWED}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, code, str(exc.detail), request_id(request))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        return error_response(
            500, v.ERR_INTERNAL, "An internal error occurred.", request_id(request)
        )


def _openapi_factory(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "sk_test_ keys only; sk_live_ keys are refused",
                }
            }
            schema["servers"] = [{"url": "/"}]
            for path, operations in schema.get("paths", {}).items():
                if path.startswith(API_PREFIX):
                    for op in operations.values():
                        op["security"] = [{"bearerAuth": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


class RemoteBindRefused(ValueError):
    """A config bound off loopback without the protections it needs; the message lists them."""


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """A new sandbox app with its own state; nothing is shared between two apps.

    ``config.host`` must be the address the app is served on: it decides whether the sandbox
    is remote. A remote config lacking a protection is refused here, whoever serves it.
    """
    config = config or SandboxConfig()
    missing = config.missing_for_remote()
    if missing:
        raise RemoteBindRefused(
            f"refusing to serve on {config.host!r} (off loopback) without: " + "; ".join(missing)
        )
    state = SandboxState(config)
    _install_log_filter()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = FastAPI(
        title="Casey backend API (sandbox)",
        version="1.0.0",
        description="Local emulator of the Casey backend API: same wire format, a stateful call "
        "lifecycle, provider limits and fault injection. Admin routes under /_sandbox are not "
        "part of this document (see casey_flows/sandbox/README.md).",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.sandbox = state
    app.include_router(router)
    app.include_router(conversation_router)
    app.include_router(admin_router)
    _install_error_handlers(app)
    app.add_middleware(BackendGate, state=state)
    app.add_middleware(AdminTokenGate, config=config)
    # FastAPI's documented way to customise the schema is to replace this method.
    app.openapi = _openapi_factory(app)  # type: ignore[method-assign]
    return app
