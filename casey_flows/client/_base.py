"""What the sync and async clients share: configuration, request building, response handling.

The two clients differ only in how they send and sleep; every decision (URL safety, headers,
validation, which failure is retried, which error is raised) is made here, once, without I/O.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, TypeAdapter, ValidationError

from casey_flows.client import errors
from casey_flows.client._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    LIST_LIMIT_MAX,
)
from casey_flows.client.conversations import (
    Conversation,
    ConversationField,
    ConversationPage,
    TranscriptMessage,
    UnexpectedShape,
    fields_from_data,
    transcript_from_data,
)
from casey_flows.client.models import Call, CallRequest, Connection
from casey_flows.client.phone import mask_phone, mask_phone_runs
from casey_flows.client.ratelimit import TokenBucket
from casey_flows.client.retry import (
    Attempt,
    RetryBudget,
    RetryPolicy,
    classify_status,
    classify_transport_error,
    parse_retry_after,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

try:
    __version__ = version("casey-flows")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

USER_AGENT = f"casey-flows/{__version__}"

# A page of calls validated in one call into pydantic-core (not one per call): -0.4 us a call.
_CALL_LIST = TypeAdapter(list[Call])
_LIST = TypeAdapter(list[Any], config={"strict": True})

_STATUS_ERRORS: dict[int, type[errors.APIStatusError]] = {
    400: errors.InvalidRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.InvalidRequestError,
    429: errors.RateLimitError,
}


@dataclass(frozen=True)
class Done:
    """The request finished; ``body`` is the decoded JSON envelope."""

    body: dict[str, Any]


@dataclass(frozen=True)
class RequestSpec:
    """One logical API request, rebuilt identically for each attempt."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Set for creates: a second send of this request may dial a person twice.
    dispatch: CallRequest | None = None
    connection_code: str | None = None


class _BearerAuth(httpx.Auth):
    """Adds the key at send time, so it never sits in the client's default headers."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        yield request


def check_base_url(base_url: str) -> str:
    """Refuse plain http except to loopback: a key must never cross a network in clear text."""
    url = httpx.URL(base_url)
    if url.scheme == "https":
        return base_url.rstrip("/")
    if url.scheme == "http" and is_loopback_host(url.host):
        return base_url.rstrip("/")
    raise ValueError(
        f"base_url {base_url!r} is not allowed: use https://, or http:// only to a loopback host"
    )


def is_loopback_host(host: str) -> bool:
    """True for addresses only this machine can reach; a name other than localhost is not,
    since we cannot know what it resolves to. (The sandbox decides "remote" with it too.)"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BaseCaseyClient:
    """Configuration and the I/O-free half of every request.

    Args:
        api_key: the Casey backend key (``str`` or ``SecretStr``); never shown again.
        base_url: the API root; plain ``http://`` only to a loopback host.
        timeout: seconds, or an ``httpx.Timeout`` (default 30 s to read, 5 s to connect).
        retry_policy: what is retried and for how long (default ``RetryPolicy()``).
        limits: connection pool limits of the default transport.
        max_requests_per_second: paces every request this client sends, retries included.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        limits: httpx.Limits | None = None,
        max_requests_per_second: float | None = None,
        transport: object | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not secret.get_secret_value().strip():
            raise ValueError(
                "api_key is empty: pass the Casey API key (sk_live_... or sk_test_...)"
            )
        if transport is not None and limits is not None:
            # httpx would ignore them silently: limits belong to the transport.
            raise ValueError("limits apply to the default transport: set them on your transport")
        self._api_key = secret
        self.base_url = check_base_url(base_url)
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=DEFAULT_TIMEOUT.connect)
        )
        self.retry_policy = retry_policy or RetryPolicy()
        self.limits = limits or DEFAULT_LIMITS
        self.max_requests_per_second = max_requests_per_second
        self._auth = _BearerAuth(secret)
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _http_settings(self, transport: T, paced: Callable[[T, TokenBucket], T]) -> dict[str, Any]:
        """What the httpx client of either kind is built with; pacing wraps the transport."""
        rate = self.max_requests_per_second
        return {
            "timeout": self.timeout,
            "auth": self._auth,
            # On the client once, not merged into every request's headers again.
            "headers": self._headers,
            "transport": paced(transport, TokenBucket(rate)) if rate else transport,
        }

    # -- request specs -------------------------------------------------------------------------

    @staticmethod
    def _calls_path(connection_code: str) -> str:
        return f"/connections/{quote(connection_code, safe='')}/calls"

    def _create_call_spec(
        self, connection_code: str, request: CallRequest, idempotency_key: str | None
    ) -> RequestSpec:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return RequestSpec(
            "POST",
            self._calls_path(connection_code),
            body=request.to_wire(),
            headers=headers,
            dispatch=request,
            connection_code=connection_code,
        )

    def _get_call_spec(self, connection_code: str, call_id: str) -> RequestSpec:
        return RequestSpec("GET", f"{self._calls_path(connection_code)}/{quote(call_id, safe='')}")

    def _list_calls_spec(
        self, connection_code: str, limit: int, offset: int, status: str | None
    ) -> RequestSpec:
        _check_limit(limit)
        if offset < 0:
            raise errors.InvalidRequestError(
                f"invalid offset {offset!r}: must be >= 0", field="offset"
            )
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        return RequestSpec("GET", self._calls_path(connection_code), params=params)

    @staticmethod
    def _get_connection_spec(code: str) -> RequestSpec:
        return RequestSpec("GET", f"/connections/{quote(code, safe='')}")

    @staticmethod
    def _list_connections_spec(
        page_size: int, after: str | None, agent_id: str | None
    ) -> RequestSpec:
        params: dict[str, Any] = {"limit": page_size}
        if after:
            params["after"] = after
        if agent_id:
            params["agent_id"] = agent_id
        return RequestSpec("GET", "/connections", params=params)

    @staticmethod
    def _conversation_path(conversation_id: str) -> str:
        # An empty id or a dot segment would address another resource once the URL is resolved.
        if not isinstance(conversation_id, str) or conversation_id in {"", ".", ".."}:
            raise errors.InvalidRequestError(
                f"invalid conversation_id {conversation_id!r}", field="conversation_id"
            )
        return f"/conversations/{quote(conversation_id, safe='')}"

    def _get_conversation_spec(self, conversation_id: str) -> RequestSpec:
        return RequestSpec("GET", self._conversation_path(conversation_id))

    @staticmethod
    def _list_conversations_spec(
        limit: int, after: str | None, before: str | None, status: str | None
    ) -> RequestSpec:
        _check_limit(limit)
        params: dict[str, Any] = {"limit": limit}
        for name, value in (("after", after), ("before", before), ("status", status)):
            if value is not None:
                params[name] = value
        return RequestSpec("GET", "/conversations", params=params)

    def _conversation_fields_spec(self, conversation_id: str, active_only: bool) -> RequestSpec:
        return RequestSpec(
            "GET",
            f"{self._conversation_path(conversation_id)}/fields",
            params={"active_only": "true" if active_only else "false"},
        )

    def _conversation_transcript_spec(self, conversation_id: str) -> RequestSpec:
        return RequestSpec("GET", f"{self._conversation_path(conversation_id)}/transcripts")

    def _build(self, http: httpx.Client | httpx.AsyncClient, spec: RequestSpec) -> httpx.Request:
        return http.build_request(
            spec.method,
            _parsed_url(self.base_url + spec.path),
            params=spec.params,
            json=spec.body,
            headers=spec.headers or None,
        )

    # -- deciding what an attempt's result means ---------------------------------------------

    def _after_error(
        self, spec: RequestSpec, budget: RetryBudget, exc: httpx.TransportError, sent_at: datetime
    ) -> float:
        """Seconds to wait before retrying a transport failure, or raise the final error."""
        kind = classify_transport_error(exc)
        if spec.dispatch is not None and kind is Attempt.AMBIGUOUS:
            raise self._ambiguous(spec, sent_at, type(exc).__name__, exc) from None
        delay = budget.next_delay()
        if delay is None:
            cls = (
                errors.APITimeoutError
                if isinstance(exc, httpx.TimeoutException)
                else (errors.APIConnectionError)
            )
            raise cls(
                f"{spec.method} {spec.path} failed after {budget.retries + 1} attempt(s): "
                f"{type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        logger.info(
            "casey: %s %s: %s, retrying in %.2fs", spec.method, spec.path, type(exc).__name__, delay
        )
        return delay

    def _after_response(
        self, spec: RequestSpec, budget: RetryBudget, response: httpx.Response, sent_at: datetime
    ) -> Done | float:
        """Done with the decoded body, seconds to wait before retrying, or raise."""
        if response.is_success:
            return Done(self._decode_success(spec, response))
        error = self._status_error(response)
        kind = classify_status(response.status_code)
        if kind is None:
            raise error
        if spec.dispatch is not None and kind is Attempt.AMBIGUOUS:
            raise self._ambiguous(spec, sent_at, f"HTTP {response.status_code}", error) from None
        # Honoured on any retryable answer: 503s carry it as often as 429s do.
        delay = budget.next_delay(parse_retry_after(response.headers.get("Retry-After")))
        if delay is None:
            raise error
        logger.info(
            "casey: %s %s: HTTP %s, retrying in %.2fs",
            spec.method,
            spec.path,
            response.status_code,
            delay,
        )
        return delay

    def _ambiguous(
        self, spec: RequestSpec, sent_at: datetime, what: str, cause: BaseException
    ) -> errors.AmbiguousDispatchError:
        assert spec.dispatch is not None
        key = spec.headers.get("Idempotency-Key")
        return errors.AmbiguousDispatchError(
            f"create call to {mask_phone(spec.dispatch.phone_number)} may or may not have been "
            f"dispatched ({what}); not re-sent. Reconcile by listing calls"
            + (f" and matching idempotency key {key!r}" if key else ""),
            connection_code=spec.connection_code or "",
            idempotency_key=key,
            sent_at=sent_at,
            masked_phone=mask_phone(spec.dispatch.phone_number),
            cause=cause,
        )

    def _decode_success(self, spec: RequestSpec, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or "data" not in body:
            raise errors.APIStatusError(
                f"{spec.method} {spec.path}: expected a JSON envelope with 'data'",
                status_code=response.status_code,
                request_id=_request_id(response, None),
            )
        return body

    def _status_error(self, response: httpx.Response) -> errors.APIStatusError:
        """Map an error response, from either documented envelope or a non-JSON body."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        envelope = body.get("error") if isinstance(body, dict) else None
        if isinstance(envelope, dict):
            code = envelope.get("code")
            message = str(envelope.get("message") or code or response.reason_phrase)
        else:
            code = None
            text = response.text.strip()[:200]
            message = text or response.reason_phrase or "error"
        status = response.status_code
        cls = _STATUS_ERRORS.get(status) or (
            errors.ServerError if status >= 500 else errors.APIStatusError
        )
        kwargs: dict[str, Any] = {
            "status_code": status,
            "code": str(code) if code is not None else None,
            "request_id": _request_id(response, body),
        }
        if cls is errors.RateLimitError:
            kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
        return cls(self._scrub(message), **kwargs)

    def _scrub(self, text: str) -> str:
        """Remove the key and mask phone-like digit runs from text we did not write."""
        secret = self._api_key.get_secret_value()
        if secret:
            text = text.replace(secret, "[redacted]")
        return mask_phone_runs(text)

    # -- parsing -------------------------------------------------------------------------------

    @staticmethod
    def _parse_call(body: dict[str, Any]) -> Call:
        return _parse(lambda: Call.model_validate(body["data"]))

    @staticmethod
    def _parse_calls(body: dict[str, Any]) -> list[Call]:
        return _parse(lambda: _CALL_LIST.validate_python(body["data"]))

    @staticmethod
    def _call_items(body: dict[str, Any]) -> list[Any]:
        """A list page's calls as sent, for a CallPage to validate one by one when read."""
        return _parse(lambda: _LIST.validate_python(body["data"]))

    @staticmethod
    def _parse_connection(body: dict[str, Any]) -> Connection:
        return _parse(lambda: Connection.model_validate(body["data"]))

    @staticmethod
    def _parse_connections(body: dict[str, Any]) -> tuple[list[Connection], str | None]:
        items = _parse(lambda: [Connection.model_validate(item) for item in body["data"]])
        pagination = body.get("pagination") or {}
        cursor = pagination.get("next_cursor") if pagination.get("has_more") else None
        return items, cursor

    @staticmethod
    def _parse_conversation(body: dict[str, Any]) -> Conversation:
        return _parse(lambda: Conversation.model_validate(body["data"]))

    @staticmethod
    def _parse_conversation_page(body: dict[str, Any]) -> ConversationPage:
        return _parse(lambda: ConversationPage.from_envelope(body))

    @staticmethod
    def _parse_conversation_fields(body: dict[str, Any]) -> list[ConversationField]:
        return _parse(lambda: fields_from_data(body["data"]))

    @staticmethod
    def _parse_transcript(body: dict[str, Any]) -> list[TranscriptMessage]:
        return _parse(lambda: transcript_from_data(body["data"]))

    @staticmethod
    def _next_cursor(page: ConversationPage, seen: set[str]) -> str | None:
        """The cursor of the page after ``page``, or None after the last page.

        Raises rather than stop early or loop: a page that says it has more but gives no new
        cursor would otherwise end a full read short, or repeat it forever.
        """
        if not page.has_more:
            return None
        cursor = page.next_cursor
        if not cursor or cursor in seen:
            problem = "no next_cursor" if not cursor else "a next_cursor already followed"
            raise errors.APIStatusError(f"unexpected pagination: has_more with {problem}")
        seen.add(cursor)
        return cursor


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """A URL parsed once: creates and list pages go to a few URLs again and again, and httpx
    parses a string on every request (a URL is immutable, so sharing one is safe)."""
    return httpx.URL(url)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise errors.InvalidRequestError(
            f"invalid limit {limit!r}: must be 1 to {LIST_LIMIT_MAX}", field="limit"
        )


def _parse(build: Callable[[], T]) -> T:
    """Turn a response of the wrong shape into a CaseyError that does not echo the body."""
    try:
        return build()
    except UnexpectedShape as exc:
        raise errors.APIStatusError(f"unexpected response shape: {exc}") from None
    except (ValidationError, TypeError) as exc:
        where = "; ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in _errors(exc))
        raise errors.APIStatusError(f"unexpected response shape: {where}") from None


def _errors(exc: Exception) -> list[Any]:
    return (
        exc.errors(include_input=False)
        if isinstance(exc, ValidationError)
        else [{"loc": (), "msg": type(exc).__name__}]
    )


def _request_id(response: httpx.Response, body: object) -> str | None:
    header: str | None = response.headers.get("x-request-id") or response.headers.get("request-id")
    if header:
        return header
    if isinstance(body, dict) and isinstance(body.get("meta"), dict):
        rid = body["meta"].get("request_id")
        return str(rid) if rid is not None else None
    return None


def utcnow() -> datetime:
    """Aware UTC now; one place so tests and reconciliation agree on the clock."""
    return datetime.now(timezone.utc)
