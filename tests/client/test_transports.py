"""The async client behaves the same on each HTTP transport: aiohttp's (httpx-aiohttp, the
default when installed) and httpx's own (the fallback).

The same wire format, error mapping, retries, Retry-After, timeouts and pacing, and above all the
same answer to "may this create have reached the API?": a dropped or reset connection after the
request went out is ambiguous (never re-sent), a refused connection is not.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from casey_flows.client import AsyncCaseyClient, CaseyClient, errors, transports
from casey_flows.client.retry import Attempt, RetryPolicy, classify_transport_error
from tests.scripted_server import Reply, RunningServer, scripted_server

KEY = "sk_test_CANARY_transport_0123456789"
PHONE = "+14155550123"
CALL = {"id": "c1", "status": "queued", "phone_number": PHONE, "created_at": None}
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_cap=0.05)
TRANSPORTS = [
    "httpx",
    pytest.param(
        "aiohttp",
        marks=pytest.mark.skipif(
            not transports.aiohttp_available(), reason="httpx-aiohttp is not installed"
        ),
    ),
]


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with scripted_server() as running:
        yield running


def client_for(base_url: str, transport: str, **kwargs: Any) -> AsyncCaseyClient:
    kwargs.setdefault("retry_policy", FAST)
    return AsyncCaseyClient(KEY, base_url=base_url, http_transport=transport, **kwargs)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


# -- choosing the transport ----------------------------------------------------------------------


def test_default_is_aiohttp_when_installed_else_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(transports.TRANSPORT_ENV, raising=False)
    expected = "aiohttp" if transports.aiohttp_available() else "httpx"
    assert AsyncCaseyClient(KEY).http_transport == expected
    monkeypatch.setattr(transports, "AiohttpTransport", None)
    assert AsyncCaseyClient(KEY).http_transport == "httpx"
    with pytest.raises(ValueError, match="needs the httpx-aiohttp package"):
        AsyncCaseyClient(KEY, http_transport="aiohttp")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_setting_and_the_keyword_pick_the_transport(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(transports.TRANSPORT_ENV, f" {transport.upper()} ")
    client = AsyncCaseyClient(KEY)
    assert client.http_transport == transport
    inner = client._http._transport
    expected = (
        transports.CaseyAiohttpTransport if transport == "aiohttp" else httpx.AsyncHTTPTransport
    )
    assert isinstance(inner, expected)
    other = "httpx" if transport == "aiohttp" else "aiohttp"
    if transports.aiohttp_available():
        assert AsyncCaseyClient(KEY, http_transport=other).http_transport == other  # type: ignore[arg-type]


def test_unknown_names_and_two_transports_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="http_transport='curl'"):
        AsyncCaseyClient(KEY, http_transport="curl")  # type: ignore[arg-type]
    monkeypatch.setenv(transports.TRANSPORT_ENV, "curl")
    with pytest.raises(ValueError, match=transports.TRANSPORT_ENV):
        AsyncCaseyClient(KEY)
    mock = httpx.MockTransport(lambda r: httpx.Response(200))
    with pytest.raises(ValueError, match="not both"):
        AsyncCaseyClient(KEY, transport=mock, http_transport="httpx")
    assert AsyncCaseyClient(KEY, transport=mock).http_transport is None


def test_the_package_is_optional_for_the_library() -> None:
    """Without httpx-aiohttp, importing the client works and httpx's transport is used."""
    code = (
        "import sys; sys.modules['httpx_aiohttp'] = None\n"
        "from casey_flows.client import AsyncCaseyClient\n"
        "print(AsyncCaseyClient('sk_test_x').http_transport)\n"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **_pythonpath()},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "httpx"


def _pythonpath() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")}


# -- the same wire on each transport -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wire_format(server: RunningServer, transport: str) -> None:
    server.app.queue(
        Reply(201, {"data": CALL}), Reply(200, {"data": CALL}), Reply(200, {"data": []})
    )

    async def scenario() -> None:
        async with client_for(server.base_url, transport) as client:
            await client.create_call(
                "demo-outbound", PHONE, context={"dispatch_key": "k1"}, idempotency_key="k1"
            )
            await client.get_call("demo outbound/x", "c 1")
            await client.list_calls("demo-outbound", limit=5, offset=10, status="in_progress")
            assert "authorization" not in {k.lower() for k in client._http.headers}

    run(scenario)
    create, get, listing = server.app.requests
    assert (create.method, create.path, create.query) == (
        "POST",
        "/v1/backend/connections/demo-outbound/calls",
        "",
    )
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.headers["idempotency-key"] == "k1"
    assert create.headers["content-type"] == "application/json"
    assert create.headers["user-agent"].startswith("casey-flows/")
    assert create.json() == {"phone_number": PHONE, "context": {"dispatch_key": "k1"}}
    assert get.path == "/v1/backend/connections/demo%20outbound%2Fx/calls/c%201"
    assert get.body == b""
    assert listing.query == "limit=5&offset=10&status=in_progress"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, errors.AuthenticationError),
        (404, errors.NotFoundError),
        (422, errors.InvalidRequestError),
        (429, errors.RateLimitError),
        (503, errors.ServerError),
    ],
)
def test_error_statuses_map_to_typed_errors(
    server: RunningServer, transport: str, status: int, error_class: type
) -> None:
    body = {"error": {"code": f"code_{status}", "message": f"message {status}"}}
    server.app.queue(Reply(status, body, headers={"x-request-id": "req_123"}))

    async def scenario() -> errors.CaseyError:
        async with client_for(
            server.base_url, transport, retry_policy=RetryPolicy(max_retries=0)
        ) as client:
            with pytest.raises(error_class) as caught:
                await client.get_call("demo-outbound", "abc")
            return caught.value

    error = run(scenario)
    assert type(error) is error_class
    assert (error.status_code, error.code, error.message, error.request_id) == (
        status,
        f"code_{status}",
        f"message {status}",
        "req_123",
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_retries_and_retry_after(server: RunningServer, transport: str) -> None:
    server.app.queue(
        Reply(503, {"error": {"code": "x", "message": "busy"}}),
        Reply(200, {"data": CALL}, action="drop"),  # a GET may be re-sent after a drop
        Reply(429, {"error": {"code": "slow", "message": "later"}}, headers={"Retry-After": "1"}),
        Reply(200, {"data": CALL}),
    )

    async def scenario() -> float:
        async with client_for(server.base_url, transport) as client:
            started = time.monotonic()
            call = await client.get_call("demo-outbound", "c1")
            assert call.id == "c1"
            return time.monotonic() - started

    waited = run(scenario)
    assert len(server.app.requests) == 4
    assert waited >= 0.95  # the Retry-After of 1 s was honoured


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_explicit_timeout_is_honoured(server: RunningServer, transport: str) -> None:
    server.app.queue(Reply(200, {"data": CALL}, stall_seconds=3))

    async def scenario() -> float:
        timeout = httpx.Timeout(0.5, connect=2)
        policy = RetryPolicy(max_retries=0)
        async with client_for(
            server.base_url, transport, timeout=timeout, retry_policy=policy
        ) as client:
            started = time.monotonic()
            with pytest.raises(errors.APITimeoutError, match="ReadTimeout"):
                await client.get_call("demo-outbound", "c1")
            return time.monotonic() - started

    assert run(scenario) < 2.5


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_rate_limiter_paces_every_request(server: RunningServer, transport: str) -> None:
    async def scenario() -> float:
        async with client_for(server.base_url, transport, max_requests_per_second=4) as client:
            started = time.monotonic()
            await asyncio.gather(*(client.list_calls("demo-outbound") for _ in range(8)))
            return time.monotonic() - started

    assert run(scenario) >= 0.9  # 4 in the bucket, 4 more a quarter second apart
    assert len(server.app.requests) == 8


# -- faults: was the create sent? ----------------------------------------------------------------


@asynccontextmanager
async def raw_peer(behaviour: str) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A loopback peer that reads one request, then closes ("close") or resets ("reset")
    the connection without answering. Yields its base URL and the request heads it read."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
        except asyncio.IncompleteReadError:
            return
        if behaviour == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    peer = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = peer.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/backend", seen
    finally:
        peer.close()
        await peer.wait_closed()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"error": {"code": "internal", "message": "x"}}),
        Reply(502, text="bad gateway"),
        Reply(200, {"data": CALL}, action="drop"),
        Reply(200, {"data": CALL}, stall_seconds=1.5),
    ],
    ids=["500", "502-text", "dropped-mid-body", "read-timeout"],
)
def test_ambiguous_create_is_never_resent(
    server: RunningServer, transport: str, reply: Reply
) -> None:
    server.app.queue(reply)
    server.app.default = Reply(200, {"data": CALL})

    async def scenario() -> errors.AmbiguousDispatchError:
        async with client_for(server.base_url, transport, timeout=httpx.Timeout(0.5)) as client:
            with pytest.raises(errors.AmbiguousDispatchError) as caught:
                await client.create_call("demo-outbound", PHONE, idempotency_key="k:1")
            return caught.value

    error = run(scenario)
    time.sleep(0.2)
    assert len(server.app.requests) == 1
    assert error.idempotency_key == "k:1" and error.masked_phone == "+1•••••0123"
    assert PHONE not in str(error)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_connection_lost_after_sending_is_ambiguous(transport: str, behaviour: str) -> None:
    """httpx-aiohttp alone calls both of these ConnectTimeout ("never sent"): re-mapped."""

    async def scenario() -> tuple[errors.CaseyError, int]:
        async with raw_peer(behaviour) as (url, seen), client_for(url, transport) as client:
            with pytest.raises(errors.CaseyError) as caught:
                await client.create_call("demo-outbound", PHONE, idempotency_key="k:2")
            await asyncio.sleep(0.1)
            return caught.value, len(seen)

    error, requests = run(scenario)
    assert isinstance(error, errors.AmbiguousDispatchError), repr(error)
    assert requests == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_get_is_retried_after_the_connection_is_lost(transport: str) -> None:
    async def scenario() -> tuple[errors.CaseyError, int]:
        async with raw_peer("close") as (url, seen), client_for(url, transport) as client:
            with pytest.raises(errors.CaseyError) as caught:
                await client.get_call("demo-outbound", "c1")
            return caught.value, len(seen)

    error, requests = run(scenario)
    assert type(error) is errors.APIConnectionError, repr(error)
    assert requests == 1 + FAST.max_retries


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connection_refused_is_retried_then_reported(transport: str) -> None:
    with scripted_server() as gone:
        url = gone.base_url

    async def scenario() -> errors.CaseyError:
        async with client_for(url, transport) as client:
            with pytest.raises(errors.APIConnectionError) as caught:
                await client.create_call("demo-outbound", PHONE)
            return caught.value

    error = run(scenario)
    assert not isinstance(error, errors.AmbiguousDispatchError | errors.APITimeoutError)
    assert "after 4 attempt(s)" in str(error) and "ConnectError" in str(error)


@pytest.mark.skipif(not transports.aiohttp_available(), reason="httpx-aiohttp is not installed")
def test_every_aiohttp_failure_keeps_its_meaning() -> None:
    """The mapping, failure by failure (some cannot be produced on loopback, e.g. a connect
    timeout): connect-side failures were never sent, everything after may have arrived."""
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("h", 1, False, None, None, None, None)
    not_sent = [
        aiohttp.ConnectionTimeoutError("connect"),
        aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused")),
    ]
    maybe_sent = [
        aiohttp.SocketTimeoutError("read"),
        aiohttp.ServerTimeoutError("read"),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "reset"),
        aiohttp.ClientPayloadError("cut short"),
        aiohttp.ClientConnectionError("other"),
        asyncio.TimeoutError(),
    ]
    for exc in not_sent:
        mapped = transports._from_aiohttp(exc)
        assert mapped is not None and classify_transport_error(mapped) is Attempt.NOT_SENT, exc
    for exc in maybe_sent:
        mapped = transports._from_aiohttp(exc)
        assert mapped is not None and classify_transport_error(mapped) is Attempt.AMBIGUOUS, exc
    assert isinstance(
        transports._from_aiohttp(aiohttp.ConnectionTimeoutError()), httpx.TimeoutException
    )
    assert isinstance(transports._from_aiohttp(aiohttp.SocketTimeoutError()), httpx.ReadTimeout)
    assert transports._from_aiohttp(ValueError("not ours")) is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cookies_the_api_sets_are_sent_back(server: RunningServer, transport: str) -> None:
    """A load balancer's sticky-session cookie still comes back on the next request (on
    aiohttp's transport its session keeps cookies, and httpx keeps none of its own)."""
    server.app.queue(Reply(200, {"data": []}, headers={"set-cookie": "sticky=abc; Path=/"}))
    base_url = server.base_url.replace("127.0.0.1", "localhost")

    async def scenario() -> None:
        async with client_for(base_url, transport) as client:
            await client.list_calls("demo-outbound")
            await client.list_calls("demo-outbound")

    run(scenario)
    first, second = server.app.requests
    assert "cookie" not in first.headers
    assert second.headers.get("cookie") == "sticky=abc"


def test_clients_share_one_tls_context() -> None:
    """Loading the CA bundle costs ~18 ms of CPU: done once per process, not per client."""
    shared = transports.shared_ssl_context()
    assert shared.verify_mode is ssl.CERT_REQUIRED and shared.check_hostname
    sync_pool = CaseyClient(KEY)._http._transport._pool  # type: ignore[attr-defined]
    async_pool = AsyncCaseyClient(KEY, http_transport="httpx")._http._transport._pool  # type: ignore[attr-defined]
    assert sync_pool._ssl_context is shared and async_pool._ssl_context is shared
    if transports.aiohttp_available():
        aiohttp_transport = AsyncCaseyClient(KEY, http_transport="aiohttp")._http._transport
        assert aiohttp_transport.ssl_context is shared  # type: ignore[attr-defined]
