"""Typed errors of the Casey client.

Every error carries what a caller needs to act (HTTP status, the API's ``error.code`` and
``error.message``, a request id for support) and nothing it must not show: messages are scrubbed
of the API key and of full phone numbers before they are stored.
"""

from __future__ import annotations

from datetime import datetime

from typing_extensions import TypedDict, Unpack


class CaseyError(Exception):
    """Base of every error raised by the Casey client."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.status_code is not None:
            details.append(f"HTTP {self.status_code}")
        if self.code:
            details.append(f"code={self.code}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class _Details(TypedDict, total=False):
    """The keywords every error passes on to ``CaseyError``."""

    status_code: int | None
    code: str | None
    request_id: str | None


class APIStatusError(CaseyError):
    """The API answered with an error status."""


class AuthenticationError(APIStatusError):
    """401: the key is missing, unknown, revoked, or of the wrong kind. Never retried."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but lacks a scope for this request."""


class NotFoundError(APIStatusError):
    """404: unknown connection or call."""


class InvalidRequestError(APIStatusError):
    """400/422 from the API, or a request that failed validation before it was sent.

    ``field`` names the offending field when known; the value in the message is masked.
    """

    def __init__(
        self, message: str, *, field: str | None = None, **kwargs: Unpack[_Details]
    ) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class ConflictError(APIStatusError):
    """409: the request conflicts with the state of the resource."""


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, **kwargs: Unpack[_Details]
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the API failed. GETs are retried; a create never is (see AmbiguousDispatchError)."""


class APIConnectionError(CaseyError):
    """The request could not be completed at the transport level (refused, reset, timed out)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class AmbiguousDispatchError(CaseyError):
    """A create-call may or may not have reached Casey: the phone may already be ringing.

    Raised after a timeout once the request was sent, a dropped connection, or a 5xx answer to a
    create. The client never re-sends on its own. To recover, list the connection's calls created
    since ``sent_at`` and look for a key you put in their ``context`` (the flows put
    ``idempotency_key`` in ``context["dispatch_key"]``); create again only if none matches.
    """

    def __init__(
        self,
        message: str,
        *,
        connection_code: str,
        idempotency_key: str | None,
        sent_at: datetime,
        masked_phone: str,
        cause: BaseException | None = None,
        **kwargs: Unpack[_Details],
    ) -> None:
        super().__init__(message, **kwargs)
        self.connection_code = connection_code
        self.idempotency_key = idempotency_key
        self.sent_at = sent_at
        self.masked_phone = masked_phone
        self.cause = cause
