"""Who may call the sandbox outside ``/v1/backend``: the admin token, when one is required.

Required when ``admin_token`` is set, and always off loopback (where the sandbox will not start
without one). Off loopback anyone who reaches the port could otherwise reset state, inject
faults or read ``/_sandbox/stats`` (full phone numbers). Deny by default: every path needs the
token except the emulated API (API keys, checked by the backend gate) and the public docs, so
a route added later, or a path spelled to dodge a prefix check, is covered too.
"""

from __future__ import annotations

from starlette.responses import Response

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.config import SandboxConfig
from casey_flows.sandbox.gate import (
    API_PREFIX,
    ASGIApp,
    Receive,
    Scope,
    Send,
    bearer_token,
    matches_any,
)
from casey_flows.sandbox.wire import error_response

PUBLIC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})
ADMIN_TOKEN_HEADER = "Authorization: Bearer <admin token>"


class AdminTokenGate:
    """Pure-ASGI check of the admin token, decided once from the config (not per caller)."""

    def __init__(self, app: ASGIApp, config: SandboxConfig) -> None:
        self.app = app
        token = config.admin_token
        self._token = (token.get_secret_value().encode(),) if token is not None else ()
        # Open only on loopback with no token: today's zero-setup local use.
        self._open = token is None and not config.is_remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._open or scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        presented = bearer_token(scope)
        if presented is not None and matches_any(presented, self._token):
            await self.app(scope, receive, send)
            return
        await self._refused()(scope, receive, send)

    @staticmethod
    def _public(path: str) -> bool:
        return path.startswith(API_PREFIX) or path in PUBLIC_PATHS

    @staticmethod
    def _refused() -> Response:
        # One answer for a missing and a wrong token: nothing to learn from the difference.
        return error_response(
            401,
            v.ERR_ADMIN_UNAUTHORIZED,
            f"This sandbox requires its admin token here: send '{ADMIN_TOKEN_HEADER}'.",
            None,
            headers={"WWW-Authenticate": 'Bearer realm="casey-sandbox-admin"'},
        )
