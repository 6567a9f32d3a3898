"""Which HTTP transport the async client sends with: aiohttp's (through ``httpx-aiohttp``) or
httpx's own.

Both keep httpx's API above the transport (requests, responses, auth, timeouts, errors); only
the bytes on the socket are handled differently. On this project's benchmark
(``benchmarks/transport.py``) aiohttp's costs 0.5-0.7x httpx's CPU per request one at a time
and 0.1-0.2x with 100 requests in flight (httpcore's pool work grows with the requests it
holds), so it is the default when ``httpx-aiohttp`` is installed, and httpx's own is the
fallback. ``CASEY_FLOWS_HTTP_TRANSPORT`` (``aiohttp`` or ``httpx``) or the client's
``http_transport`` argument picks one by name.

Failures keep the meaning the retry rules give them (``casey_flows.client.retry``): nothing was
sent (refused, connect or pool timeout) or the request may have arrived (dropped, reset, read
timeout). httpx-aiohttp's own mapping turns every aiohttp connection error, a reset after
sending included, into ``httpx.ConnectTimeout`` ("not sent"), which would let a create be sent
twice; ``CaseyAiohttpTransport`` maps them again, by what aiohttp raised.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx

HttpTransportName = Literal["aiohttp", "httpx"]
HTTP_TRANSPORTS: tuple[HttpTransportName, ...] = ("aiohttp", "httpx")
TRANSPORT_ENV = "CASEY_FLOWS_HTTP_TRANSPORT"

try:  # an optional speed-up: everything works on httpx's own transport without it
    import aiohttp
    from httpx_aiohttp import AiohttpTransport
except ImportError:  # pragma: no cover - exercised by a test that hides the package
    # None stands for "not installed"; the checker sees the installed modules' types.
    aiohttp = None  # type: ignore[assignment]
    AiohttpTransport = None  # type: ignore[assignment,misc]


def aiohttp_available() -> bool:
    return AiohttpTransport is not None


def resolve_transport_name(name: str | None = None) -> HttpTransportName:
    """The transport to use: ``name``, else ``CASEY_FLOWS_HTTP_TRANSPORT``, else the fastest
    one installed. Asking for aiohttp by name when it is not installed is an error, not a
    silent fallback."""
    chosen = (name or os.environ.get(TRANSPORT_ENV, "")).strip().lower()
    if not chosen:
        return "aiohttp" if aiohttp_available() else "httpx"
    if chosen not in HTTP_TRANSPORTS:
        source = "http_transport" if name else TRANSPORT_ENV
        raise ValueError(f"{source}={chosen!r}: choose one of {', '.join(HTTP_TRANSPORTS)}")
    if chosen == "aiohttp" and not aiohttp_available():
        raise ValueError(
            "the aiohttp transport needs the httpx-aiohttp package: "
            "pip install httpx-aiohttp, or choose http_transport='httpx'"
        )
    return chosen


def build_async_transport(
    name: HttpTransportName, limits: httpx.Limits
) -> httpx.AsyncBaseTransport:
    """A fresh async transport of that kind with these pool limits."""
    if name == "aiohttp":
        return CaseyAiohttpTransport(limits=limits, verify=shared_ssl_context())
    return httpx.AsyncHTTPTransport(limits=limits, verify=shared_ssl_context())


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The TLS settings every client of this process verifies the API with, built once.

    httpx's default (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set when
    the first client is made). Loading the bundle costs ~18 ms of CPU, which each client paid
    again: once per call for a flow that places one. A context is safe to share between
    clients, connections and threads.
    """
    return httpx.create_ssl_context()


def async_client_class(name: HttpTransportName | None) -> type[httpx.AsyncClient]:
    """The httpx client class to put above a transport of that name (None: the caller's own)."""
    return OneCookieJarClient if name == "aiohttp" else httpx.AsyncClient


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing it is sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class OneCookieJarClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` for aiohttp's transport, whose session keeps cookies itself.

    httpx would keep them a second time, and reads every response for ``Set-Cookie`` through
    urllib's cookie machinery to do it (~25 us of CPU a request, a quarter of what the client
    costs above the socket); here httpx's jar stays empty and aiohttp's is the only one.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._one_jar = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._one_jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("cookies are kept by the aiohttp session under this client")


def _from_aiohttp(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error that means what ``exc`` means for "was the request sent?"."""
    if aiohttp is None:  # pragma: no cover
        return None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # waiting for a pooled or new connection
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError):  # a read, after the request went out
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerFingerprintMismatch):
        return httpx.ConnectError(message)  # refused, DNS, TLS: before any byte was sent
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message)  # as h11 says for a peer gone mid-exchange
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)  # body cut short
    if isinstance(exc, aiohttp.ClientError):
        return httpx.ReadError(message)  # reset, broken pipe, anything else: maybe sent
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout(message)
    return None


def _remapped(exc: BaseException) -> tuple[BaseException, BaseException]:
    """``exc`` as the right httpx error, and the aiohttp error behind it (httpx-aiohttp keeps
    that as the cause of its own); ``(exc, exc)`` when there is nothing to map."""
    root = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    mapped = _from_aiohttp(root) if root is not None else None
    return (mapped, root) if mapped is not None and root is not None else (exc, exc)


if AiohttpTransport is not None:

    class CaseyAiohttpTransport(AiohttpTransport):
        """httpx-aiohttp's transport with failures mapped by what aiohttp raised, and without
        aiohttp's own silent second try of a GET after a dropped connection: the client's
        retry policy is the only one, so ``max_retries`` means the same on both transports."""

        def get_client(self) -> aiohttp.ClientSession:
            session = super().get_client()
            if hasattr(session, "_retry_connection"):  # aiohttp >= 3.10 has no public switch
                session._retry_connection = False
            return session

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response = await super().handle_async_request(request)
            except (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                mapped, root = _remapped(exc)
                if mapped is exc:
                    raise
                raise mapped from root
            response.stream = _RemappedStream(response.stream)
            return response

else:  # pragma: no cover

    class CaseyAiohttpTransport:  # type: ignore[no-redef]  # the stand-in without httpx-aiohttp
        def __init__(self, **kwargs: Any) -> None:
            raise ValueError("the aiohttp transport needs the httpx-aiohttp package")


class _RemappedStream(httpx.AsyncByteStream):
    """A response body whose read errors are mapped like the request's."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            mapped, root = _remapped(exc)
            if mapped is exc:
                raise
            raise mapped from root

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except Exception as exc:
            mapped, root = _remapped(exc)
            if mapped is exc:
                raise
            raise mapped from root
