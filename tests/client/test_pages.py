"""CallPage: a list page whose calls are validated when read, and read as list_calls reads them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from casey_flows.client import APIStatusError, AsyncCaseyClient, Call, CaseyClient, RetryPolicy
from casey_flows.client.pages import CallPage
from tests.scripted_server import Reply, RunningServer, scripted_server

PHONE = "+14155550123"


def call(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "phone_number": PHONE,
        "status": "in_progress",
        "context": {"dispatch_key": f"k{n}"},
        "created_at": "2026-11-26T21:53:30.123456+00:00",
        **fields,
    }


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with scripted_server() as running:
        yield running


def test_a_page_reads_as_list_calls_does(server: RunningServer) -> None:
    items = [call(1), call(2, status="No-Answer", surprise=[1]), call(3, created_at="last week")]
    server.app.queue(Reply(200, {"data": items}), Reply(200, {"data": items}))
    with CaseyClient("sk_test_pages", base_url=server.base_url) as client:
        page = client.list_call_page("demo-outbound", limit=3, offset=6, status="x")
        listed = client.list_calls("demo-outbound", limit=3, offset=6, status="x")
    assert [r.query for r in server.app.requests] == ["limit=3&offset=6&status=x"] * 2
    assert len(page) == 3
    assert list(page) == listed == page.calls()
    assert [page.created_at(i) for i in range(3)] == [c.created_at for c in listed]
    assert page.id_at(1) == "c2" and page.raw(1) == items[1]


def test_calls_are_validated_only_when_read() -> None:
    page = CallPage([call(1), {"id": 7, "status": ["not", "a", "string"]}, "not a call"])
    assert page[0].id == "c1"
    assert page[0] is page[0], "validated once, then kept"
    assert page.id_at(1) is None and page.id_at(2) is None
    with pytest.raises(APIStatusError, match="unexpected response shape"):
        page[1]
    with pytest.raises(APIStatusError, match="unexpected response shape"):
        page.calls()
    with pytest.raises(APIStatusError, match="unexpected response shape"):
        page.created_at(2)
    assert isinstance(page[:1], CallPage) and [c.id for c in page[:1]] == ["c1"]


def test_created_at_is_read_as_the_model_reads_it() -> None:
    raws = ["2026-11-26T21:53:30Z", "2026-11-26 21:53:30", "yesterday", None, 12]
    page = CallPage([call(i, created_at=raw) for i, raw in enumerate(raws)] + [{"id": "y"}])
    for index in range(len(page)):
        assert page.created_at(index) == Call.model_validate(page.raw(index)).created_at
    assert page.created_at(0) == datetime(2026, 11, 26, 21, 53, 30, tzinfo=timezone.utc)


def test_the_wrong_shape_is_a_typed_error_before_any_call_is_read(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": {"id": "c1"}}))

    async def scenario() -> None:
        async with AsyncCaseyClient(
            "sk_test_pages", base_url=server.base_url, retry_policy=RetryPolicy(max_retries=0)
        ) as client:
            await client.list_call_page("demo-outbound")

    with pytest.raises(APIStatusError, match="unexpected response shape"):
        asyncio.run(scenario())
