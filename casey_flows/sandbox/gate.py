"""The pure-ASGI gate in front of every ``/v1/backend`` request: request id, injected latency
and 5xx, auth, the rate limit and synthetic 429s, and per-route stats.

Pure ASGI (not ``BaseHTTPMiddleware``) because it runs on every request and must stay cheap;
admin routes and ``/openapi.json`` bypass it entirely, so they are never limited or faulted.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response
from starlette.routing import Match

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.faults import ConnectionDropFault
from casey_flows.sandbox.limits import retry_after_header
from casey_flows.sandbox.state import SandboxState
from casey_flows.sandbox.wire import error_response

API_PREFIX = "/v1/backend"
TEST_PREFIX = "sk_test_"
LIVE_PREFIX = "sk_live_"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def bearer_token(scope: Scope) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header, or None if absent/malformed."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1").strip()
            scheme, _, key = text.partition(" ")
            if scheme.lower() == "bearer" and key.strip():
                return key.strip()
            return None
    return None


def matches_any(presented: str, accepted: tuple[bytes, ...]) -> bool:
    """Constant-time comparison with each accepted secret (no early exit on a common prefix)."""
    given = presented.encode("latin-1")  # the header bytes as sent (ASGI decodes as latin-1)
    return any(hmac.compare_digest(given, one) for one in accepted)


class BackendGate:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state
        config = state.config
        self._api_keys = tuple(k.encode() for k in config.api_keys)
        # Any sk_test_ key is the loopback convenience only; off loopback keys are listed.
        self._any_test_key = not config.api_keys and not config.is_remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        seen: list[Any] = [0]
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            early = await self._check(scope, request_id)
            if early is not None:
                await early(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except ConnectionDropFault:
            seen[0] = "dropped"
            raise
        finally:
            self.state.stats.count_request(self._template(scope), seen[0])

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            app = scope.get("app")
            for candidate in getattr(getattr(app, "router", None), "routes", ()):
                match, _ = candidate.matches(scope)
                if match is Match.FULL:
                    route = candidate
                    break
        path = getattr(route, "path", None) or "<unmatched>"
        return f"{scope['method']} {path}"

    async def _check(self, scope: Scope, request_id: str) -> Response | None:
        """Return a response to send instead of routing, or None to let the request through."""
        state = self.state
        faults = state.faults
        delay = faults.latency_s()
        if delay > 0:
            await asyncio.sleep(delay)
        status = faults.take_5xx()
        if status is not None:
            code = v.ERR_SERVICE_UNAVAILABLE if status == 503 else v.ERR_INTERNAL
            return error_response(
                status, code, "The service is temporarily unavailable.", request_id
            )

        key = bearer_token(scope)
        if key is None:
            return error_response(
                401,
                v.ERR_UNAUTHORIZED,
                "Missing or malformed Authorization header; "
                "send 'Authorization: Bearer sk_test_...'.",
                request_id,
            )
        if key.startswith(LIVE_PREFIX):
            return error_response(
                401,
                v.ERR_LIVE_KEY_REFUSED,
                "The sandbox never accepts live keys (sk_live_...). Use a test key such as "
                "sk_test_sandbox, and keep live keys out of test configuration.",
                request_id,
            )
        known = self._any_test_key or matches_any(key, self._api_keys)
        if not key.startswith(TEST_PREFIX) or not known:
            return error_response(
                401,
                v.ERR_UNAUTHORIZED,
                "Invalid API key: expected a configured sk_test_ key.",
                request_id,
            )

        wait = state.limiter.acquire(key)
        if wait > 0:
            state.stats.rate_limited_429 += 1
            return self._too_many(wait, request_id)
        if faults.take_429():
            state.stats.synthetic_429 += 1
            return self._too_many(faults.settings.retry_after_s, request_id)
        return None

    @staticmethod
    def _too_many(wait_s: float, request_id: str) -> Response:
        return error_response(
            429,
            v.ERR_RATE_LIMITED,
            "Too many requests; retry after the number of seconds in the Retry-After header.",
            request_id,
            headers={
                "Retry-After": retry_after_header(wait_s),
                "Retry-After-Ms": str(max(1, round(wait_s * 1000))),
            },
        )
