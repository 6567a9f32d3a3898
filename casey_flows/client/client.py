"""The sync and async Casey clients.

Both are thin: they send and sleep. What a request looks like and what each answer means is
decided once in ``casey_flows.client._base``; the retry rules are in ``casey_flows.client.retry``.
Both take the same arguments, as httpx's ``Client`` / ``AsyncClient`` pair does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from pydantic import SecretStr
from typing_extensions import Unpack

from casey_flows.client._base import BaseCaseyClient, Done, RequestSpec, utcnow
from casey_flows.client._constants import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from casey_flows.client.conversations import (
    Conversation,
    ConversationField,
    ConversationPage,
    TranscriptMessage,
)
from casey_flows.client.models import Call, CallFields, CallRequest, Connection
from casey_flows.client.pages import CallPage
from casey_flows.client.ratelimit import PacedSyncTransport, PacedTransport
from casey_flows.client.retry import RetryPolicy
from casey_flows.client.transports import (
    HttpTransportName,
    async_client_class,
    build_async_transport,
    resolve_transport_name,
    shared_ssl_context,
)


class CaseyClient(BaseCaseyClient):
    """Blocking client. Use as a context manager, or call ``close()``.

    Takes the arguments of :class:`BaseCaseyClient`, plus ``transport`` (an
    ``httpx.BaseTransport``, e.g. ``httpx.MockTransport`` in tests).

    Example:
        ```python
        from casey_flows import CaseyClient

        with CaseyClient("sk_test_sandbox", base_url="http://127.0.0.1:8765/v1/backend") as casey:
            call = casey.create_call("demo-outbound", "+14155550100", name="Ada")
            print(casey.get_call("demo-outbound", call.id).status)
        ```
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            retry_policy=retry_policy,
            limits=limits,
            max_requests_per_second=max_requests_per_second,
            transport=transport,
        )
        inner = transport or httpx.HTTPTransport(limits=self.limits, verify=shared_ssl_context())
        self._http = httpx.Client(**self._http_settings(inner, PacedSyncTransport))

    def __enter__(self) -> CaseyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, spec: RequestSpec) -> dict[str, Any]:
        budget, sent_at = self.retry_policy.start(), utcnow()
        while True:
            try:
                response = self._http.send(self._build(self._http, spec))
            except httpx.TransportError as exc:
                step: Done | float = self._after_error(spec, budget, exc, sent_at)
            else:
                step = self._after_response(spec, budget, response, sent_at)
            if isinstance(step, Done):
                return step.body
            time.sleep(step)

    def create_call(
        self,
        connection_code: str,
        phone_number: str,
        *,
        idempotency_key: str | None = None,
        **fields: Unpack[CallFields],
    ) -> Call:
        """Create and dispatch one outbound call.

        Never re-sent after an ambiguous failure (timeout, dropped connection, 5xx): that raises
        ``AmbiguousDispatchError``; reconcile by listing calls before trying again.

        Args:
            connection_code: a call_out connection.
            phone_number: E.164 (``+14155550100``); checked before a byte is sent.
            idempotency_key: sent as the ``Idempotency-Key`` header (the API may ignore it).
            **fields: ``name``, ``participant_id``, ``context``, ``schedule_plan``.

        Returns:
            The call as the API answered it (status usually ``pending``).
        """
        request = CallRequest.build(phone_number=phone_number, **fields)
        return self.create_call_from(connection_code, request, idempotency_key)

    def create_call_from(
        self, connection_code: str, request: CallRequest, idempotency_key: str | None = None
    ) -> Call:
        """Create a call from an already validated request (campaigns validate up front)."""
        spec = self._create_call_spec(connection_code, request, idempotency_key)
        return self._parse_call(self._send(spec))

    def get_call(self, connection_code: str, call_id: str) -> Call:
        """One call by id (``NotFoundError`` if the API does not know it)."""
        return self._parse_call(self._send(self._get_call_spec(connection_code, call_id)))

    def list_calls(
        self, connection_code: str, *, limit: int = 20, offset: int = 0, status: str | None = None
    ) -> list[Call]:
        """One page of the connection's calls (``limit`` 1 to 100; ``status`` as the API spells
        it)."""
        spec = self._list_calls_spec(connection_code, limit, offset, status)
        return self._parse_calls(self._send(spec))

    def list_call_page(
        self, connection_code: str, *, limit: int = 20, offset: int = 0, status: str | None = None
    ) -> CallPage:
        """One page of calls, as :meth:`list_calls`, each validated only when read."""
        spec = self._list_calls_spec(connection_code, limit, offset, status)
        return CallPage(self._call_items(self._send(spec)))

    def iter_calls(
        self, connection_code: str, *, status: str | None = None, page_size: int = 100
    ) -> Iterator[Call]:
        """Every call of the connection, paging by offset until a short page."""
        offset = 0
        while True:
            page = self.list_calls(connection_code, limit=page_size, offset=offset, status=status)
            yield from page
            if len(page) < page_size:
                return
            offset += len(page)

    def get_connection(self, code: str) -> Connection:
        """One connection by code (its ``channel_type`` says whether it can place calls)."""
        return self._parse_connection(self._send(self._get_connection_spec(code)))

    def list_connections(
        self, *, agent_id: str | None = None, page_size: int = 100
    ) -> list[Connection]:
        """Every connection, following the cursor."""
        found: list[Connection] = []
        cursor: str | None = None
        while True:
            body = self._send(self._list_connections_spec(page_size, cursor, agent_id))
            items, cursor = self._parse_connections(body)
            found.extend(items)
            if cursor is None:
                return found

    def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation by id (``GET /conversations/{id}``).

        Args:
            conversation_id: the conversation's id, e.g. a call's ``conversation_id``.

        Returns:
            The conversation; ``is_final`` says whether it can still change.

        Raises:
            NotFoundError: the API does not know the conversation.
            InvalidRequestError: ``conversation_id`` is empty (nothing is sent).
            APIStatusError: any other error answer, or a body of an unexpected shape.
            APIConnectionError: the API could not be reached, after the retries.

        Example:
            ```python
            call = casey.get_call("demo-outbound", call_id)
            if call.conversation_id:
                print(casey.get_conversation(call.conversation_id).status)
            ```
        """
        spec = self._get_conversation_spec(conversation_id)
        return self._parse_conversation(self._send(spec))

    def list_conversations(
        self,
        *,
        limit: int = 20,
        after: str | None = None,
        before: str | None = None,
        status: str | None = None,
    ) -> ConversationPage:
        """One page of the organization's conversations (``GET /conversations``).

        Args:
            limit: page size, 1 to 100 (checked before sending).
            after: a page's ``next_cursor``, for the page after it.
            before: a page's ``prev_cursor``, for the page before it.
            status: only conversations with this status, as the API spells it (documented:
                ``pending``, ``in_progress``, ``completed``, ``abandoned``, ``archived``).

        Returns:
            The page: ``items``, ``has_more``, ``next_cursor``, ``prev_cursor``.

        Raises:
            InvalidRequestError: ``limit`` out of range (nothing is sent), or the API refused.
            APIStatusError: any other error answer, or a body of an unexpected shape.
            APIConnectionError: the API could not be reached, after the retries.

        Example:
            ```python
            first = casey.list_conversations(limit=50, status="completed")
            print([c.id for c in first.items])
            if first.has_more:
                second = casey.list_conversations(status="completed", after=first.next_cursor)
            ```
        """
        spec = self._list_conversations_spec(limit, after, before, status)
        return self._parse_conversation_page(self._send(spec))

    def iter_conversations(
        self, *, status: str | None = None, page_size: int = 100
    ) -> Iterator[Conversation]:
        """Every conversation, following ``next_cursor`` while the API says it ``has_more``.

        Args:
            status: only conversations with this status, as the API spells it.
            page_size: conversations per request, 1 to 100.

        Returns:
            An iterator that reads the next page only when it needs it.

        Raises:
            APIStatusError: as ``list_conversations``, and when a page says it has more but gives
                no new cursor (rather than stopping short or looping).

        Example:
            ```python
            for conversation in casey.iter_conversations(status="completed"):
                fields = casey.get_conversation_fields(conversation.id)
            ```
        """
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list_conversations(limit=page_size, after=cursor, status=status)
            yield from page.items
            cursor = self._next_cursor(page, seen)
            if cursor is None:
                return

    def get_conversation_fields(
        self, conversation_id: str, *, active_only: bool = True
    ) -> list[ConversationField]:
        """The conversation's answers, flattened to ``field_id`` and ``value`` (for CRMs).

        ``GET /conversations/{id}/fields?active_only=true|false``. The body's shape is
        undocumented: see docs/client.md#conversations for the shapes read.

        Args:
            conversation_id: the conversation's id.
            active_only: only the fields that are active (the API's default use).

        Returns:
            One ``ConversationField`` per answer, in the order sent; unknown keys kept.

        Raises:
            NotFoundError: the API does not know the conversation.
            APIStatusError: any other error answer, or a body with no usable field.
            APIConnectionError: the API could not be reached, after the retries.

        Example:
            ```python
            answers = {f.field_id: f.value for f in casey.get_conversation_fields(conversation_id)}
            ```
        """
        spec = self._conversation_fields_spec(conversation_id, active_only)
        return self._parse_conversation_fields(self._send(spec))

    def get_conversation_transcript(self, conversation_id: str) -> list[TranscriptMessage]:
        """The conversation's transcript, as messages in order.

        ``GET /conversations/{id}/transcripts``. The body's shape is undocumented: see
        docs/client.md#conversations for the shapes read (several transcripts are flattened into
        one list, in order).

        Args:
            conversation_id: the conversation's id.

        Returns:
            The messages: ``speaker``, ``text``, ``timestamp`` (+ raw text); unknown keys kept.

        Raises:
            NotFoundError: the API does not know the conversation.
            APIStatusError: any other error answer, or a body with no usable message.
            APIConnectionError: the API could not be reached, after the retries.

        Example:
            ```python
            for message in casey.get_conversation_transcript(conversation_id):
                print(message.speaker, message.text)
            ```
        """
        spec = self._conversation_transcript_spec(conversation_id)
        return self._parse_transcript(self._send(spec))


class AsyncCaseyClient(BaseCaseyClient):
    """Async client, for flows and anything waiting on many calls at once.

    Takes the arguments of :class:`BaseCaseyClient`, plus ``transport`` (an
    ``httpx.AsyncBaseTransport``) or ``http_transport``: ``"aiohttp"`` (aiohttp's, through
    ``httpx-aiohttp``; the default when that is installed) or ``"httpx"`` (httpx's own; the
    fallback). ``CASEY_FLOWS_HTTP_TRANSPORT`` sets the default by name. Either way the client
    behaves the same: retries, timeouts, pacing and errors are decided above the transport.

    Example:
        ```python
        from casey_flows import AsyncCaseyClient

        sandbox = "http://127.0.0.1:8765/v1/backend"
        async with AsyncCaseyClient("sk_test_sandbox", base_url=sandbox) as casey:
            call = await casey.create_call("demo-outbound", "+14155550100")
            async for c in casey.iter_calls("demo-outbound", status="completed"):
                print(c.id, c.ended_reason)
        ```
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
        transport: httpx.AsyncBaseTransport | None = None,
        http_transport: HttpTransportName | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            retry_policy=retry_policy,
            limits=limits,
            max_requests_per_second=max_requests_per_second,
            transport=transport,
        )
        if transport is not None and http_transport is not None:
            raise ValueError("pass transport or http_transport, not both")
        #: "aiohttp", "httpx", or None for a transport given by the caller.
        self.http_transport: HttpTransportName | None
        if transport is None:
            self.http_transport = resolve_transport_name(http_transport)
            inner = build_async_transport(self.http_transport, self.limits)
        else:
            self.http_transport, inner = None, transport
        client_class = async_client_class(self.http_transport)
        self._http = client_class(**self._http_settings(inner, PacedTransport))

    async def __aenter__(self) -> AsyncCaseyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, spec: RequestSpec) -> dict[str, Any]:
        budget, sent_at = self.retry_policy.start(), utcnow()
        while True:
            try:
                response = await self._http.send(self._build(self._http, spec))
            except httpx.TransportError as exc:
                step: Done | float = self._after_error(spec, budget, exc, sent_at)
            else:
                step = self._after_response(spec, budget, response, sent_at)
            if isinstance(step, Done):
                return step.body
            await asyncio.sleep(step)

    async def create_call(
        self,
        connection_code: str,
        phone_number: str,
        *,
        idempotency_key: str | None = None,
        **fields: Unpack[CallFields],
    ) -> Call:
        """Create and dispatch one outbound call; see :meth:`CaseyClient.create_call`."""
        request = CallRequest.build(phone_number=phone_number, **fields)
        return await self.create_call_from(connection_code, request, idempotency_key)

    async def create_call_from(
        self, connection_code: str, request: CallRequest, idempotency_key: str | None = None
    ) -> Call:
        """Create a call from an already validated request (campaigns validate up front)."""
        spec = self._create_call_spec(connection_code, request, idempotency_key)
        return self._parse_call(await self._send(spec))

    async def get_call(self, connection_code: str, call_id: str) -> Call:
        """One call by id (``NotFoundError`` if the API does not know it)."""
        return self._parse_call(await self._send(self._get_call_spec(connection_code, call_id)))

    async def list_calls(
        self, connection_code: str, *, limit: int = 20, offset: int = 0, status: str | None = None
    ) -> list[Call]:
        """One page of the connection's calls (``limit`` 1 to 100)."""
        spec = self._list_calls_spec(connection_code, limit, offset, status)
        return self._parse_calls(await self._send(spec))

    async def list_call_page(
        self, connection_code: str, *, limit: int = 20, offset: int = 0, status: str | None = None
    ) -> CallPage:
        """One page of calls, as :meth:`list_calls`, each validated only when read (a watcher
        reads the few it waits on)."""
        spec = self._list_calls_spec(connection_code, limit, offset, status)
        return CallPage(self._call_items(await self._send(spec)))

    async def iter_calls(
        self, connection_code: str, *, status: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Call]:
        """Every call of the connection, paging by offset until a short page."""
        offset = 0
        while True:
            page = await self.list_calls(
                connection_code, limit=page_size, offset=offset, status=status
            )
            for call in page:
                yield call
            if len(page) < page_size:
                return
            offset += len(page)

    async def get_connection(self, code: str) -> Connection:
        """One connection by code (its ``channel_type`` says whether it can place calls)."""
        return self._parse_connection(await self._send(self._get_connection_spec(code)))

    async def list_connections(
        self, *, agent_id: str | None = None, page_size: int = 100
    ) -> list[Connection]:
        """Every connection, following the cursor."""
        found: list[Connection] = []
        cursor: str | None = None
        while True:
            body = await self._send(self._list_connections_spec(page_size, cursor, agent_id))
            items, cursor = self._parse_connections(body)
            found.extend(items)
            if cursor is None:
                return found

    async def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation by id; see :meth:`CaseyClient.get_conversation`."""
        spec = self._get_conversation_spec(conversation_id)
        return self._parse_conversation(await self._send(spec))

    async def list_conversations(
        self,
        *,
        limit: int = 20,
        after: str | None = None,
        before: str | None = None,
        status: str | None = None,
    ) -> ConversationPage:
        """One page of conversations; see :meth:`CaseyClient.list_conversations`."""
        spec = self._list_conversations_spec(limit, after, before, status)
        return self._parse_conversation_page(await self._send(spec))

    async def iter_conversations(
        self, *, status: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Conversation]:
        """Every conversation, following the cursor; see :meth:`CaseyClient.iter_conversations`.

        Example:
            ```python
            async for conversation in casey.iter_conversations(status="completed"):
                print(conversation.id, conversation.is_final)
            ```
        """
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list_conversations(limit=page_size, after=cursor, status=status)
            for conversation in page.items:
                yield conversation
            cursor = self._next_cursor(page, seen)
            if cursor is None:
                return

    async def get_conversation_fields(
        self, conversation_id: str, *, active_only: bool = True
    ) -> list[ConversationField]:
        """The conversation's answers; see :meth:`CaseyClient.get_conversation_fields`."""
        spec = self._conversation_fields_spec(conversation_id, active_only)
        return self._parse_conversation_fields(await self._send(spec))

    async def get_conversation_transcript(self, conversation_id: str) -> list[TranscriptMessage]:
        """The conversation's messages; see :meth:`CaseyClient.get_conversation_transcript`."""
        spec = self._conversation_transcript_spec(conversation_id)
        return self._parse_transcript(await self._send(spec))
