"""Both clients take the same arguments and read their defaults from one place; the block
builds clients with exactly those defaults."""

from __future__ import annotations

import time

import httpx
import pytest

from casey_flows.blocks import CaseyCredentials
from casey_flows.client import AsyncCaseyClient, CaseyClient, RetryPolicy
from casey_flows.client._constants import DEFAULT_LIMITS, DEFAULT_TIMEOUT
from tests.scripted_server import Reply, scripted_server

KEY = "sk_test_settings"


@pytest.mark.parametrize("cls", [CaseyClient, AsyncCaseyClient])
def test_both_clients_share_defaults(cls: type[CaseyClient] | type[AsyncCaseyClient]) -> None:
    client = cls(KEY)
    assert client.timeout == DEFAULT_TIMEOUT
    assert client.limits == DEFAULT_LIMITS
    assert client.retry_policy == RetryPolicy()
    custom = cls(KEY, timeout=12, limits=httpx.Limits(max_connections=3))
    # A bare number sets how long to wait for answers; connecting keeps its own short limit.
    assert custom.timeout == httpx.Timeout(12, connect=DEFAULT_TIMEOUT.connect)
    assert custom.limits.max_connections == 3


def test_block_clients_get_the_client_defaults() -> None:
    block = CaseyCredentials(api_key=KEY, base_url="http://127.0.0.1:9/v1/backend")
    for client in (block.get_client(), block.get_sync_client()):
        assert client.timeout == DEFAULT_TIMEOUT
        assert client.retry_policy == RetryPolicy()


@pytest.mark.parametrize(
    ("cls", "transport"),
    [
        (CaseyClient, httpx.MockTransport(lambda r: httpx.Response(200))),
        (AsyncCaseyClient, httpx.MockTransport(lambda r: httpx.Response(200))),
    ],
)
def test_limits_with_a_custom_transport_are_refused_not_ignored(
    cls: type[CaseyClient] | type[AsyncCaseyClient], transport: httpx.MockTransport
) -> None:
    with pytest.raises(ValueError, match="limits apply to the default transport"):
        cls(KEY, transport=transport, limits=httpx.Limits(max_connections=1))  # type: ignore[arg-type]


def test_the_blocking_client_is_paced_too() -> None:
    with scripted_server() as server:
        for _ in range(8):
            server.app.queue(Reply(200, {"data": []}))
        with CaseyClient(KEY, base_url=server.base_url, max_requests_per_second=4) as client:
            started = time.monotonic()
            for _ in range(8):
                client.list_calls("demo-outbound")
            elapsed = time.monotonic() - started
    # The bucket starts with 4 tokens; the other 4 requests wait a quarter second each. A lower
    # bound only: a loaded machine makes it slower, never faster.
    assert elapsed >= 0.9
    assert len(server.app.requests) == 8
