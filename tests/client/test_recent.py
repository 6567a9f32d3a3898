"""The one paging primitive behind the ledger, the sweeps and the report: both stop rules,
over real HTTP against a scripted peer (it answers exactly the pages we choose)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from casey_flows.client import AsyncCaseyClient, Call, RetryPolicy
from casey_flows.client.recent import StopRule, recent_call_pages, recent_lazy_pages
from tests.scripted_server import Reply, RunningServer, scripted_server

CUTOFF = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def call(n: int, minutes_after_cutoff: float | None, *, naive: bool = False) -> dict[str, Any]:
    created: str | None = None
    if minutes_after_cutoff is not None:
        moment = CUTOFF + timedelta(minutes=minutes_after_cutoff)
        created = (moment.replace(tzinfo=None) if naive else moment).isoformat()
    return {"id": f"c{n}", "status": "completed", "created_at": created}


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with scripted_server() as running:
        yield running


def read(server: RunningServer, pages: list[list[dict[str, Any]]], stop: StopRule) -> list[str]:
    """Queue ``pages`` (page size 2), read them with the rule; the ids yielded, in order."""
    for page in pages:
        server.app.queue(Reply(200, {"data": page}))

    async def scenario() -> list[str]:
        async with AsyncCaseyClient(
            "sk_test_recent", base_url=server.base_url, retry_policy=RetryPolicy(max_retries=0)
        ) as client:
            ids: list[str] = []
            async for page in recent_call_pages(
                client, "demo-outbound", cutoff=CUTOFF, stop=stop, page_size=2
            ):
                ids += [c.id for c in page]
            return ids

    return asyncio.run(scenario())


def test_page_rule_reads_past_a_mixed_page_and_stops_after_a_whole_older_page(
    server: RunningServer,
) -> None:
    pages = [[call(1, 5), call(2, -1)], [call(3, -2), call(4, -3)], [call(5, -4), call(6, -5)]]
    assert read(server, pages, "page") == ["c1", "c2", "c3", "c4"]
    assert len(server.app.requests) == 2


def test_page_rule_never_stops_on_a_timestamp_it_cannot_date(server: RunningServer) -> None:
    pages = [[call(1, -1), call(2, None)], [call(3, -2, naive=True), call(4, -3)], [call(5, -9)]]
    assert read(server, pages, "page") == ["c1", "c2", "c3", "c4", "c5"]
    assert len(server.app.requests) == 3  # ended by the short page, not by the cutoff


def test_call_rule_stops_at_the_first_older_call(server: RunningServer) -> None:
    pages = [[call(1, 5), call(2, None)], [call(3, 1, naive=True), call(4, -1)], [call(5, 9)]]
    assert read(server, pages, "call") == ["c1", "c2", "c3"]
    assert len(server.app.requests) == 2


def test_both_rules_stop_at_a_short_page(server: RunningServer) -> None:
    assert read(server, [[call(1, 5)]], "call") == ["c1"]
    assert read(server, [[call(2, 5)]], "page") == ["c2"]
    assert len(server.app.requests) == 2


def test_the_status_filter_and_offsets_go_on_the_wire(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": [call(1, 5), call(2, 4)]}))
    server.app.queue(Reply(200, {"data": []}))

    async def scenario() -> list[Call]:
        async with AsyncCaseyClient("sk_test_recent", base_url=server.base_url) as client:
            pages = recent_call_pages(
                client, "demo-outbound", cutoff=None, status="no_answer", page_size=2
            )
            return [c async for page in pages for c in page]

    assert [c.id for c in asyncio.run(scenario())] == ["c1", "c2"]
    assert [r.query for r in server.app.requests] == [
        "limit=2&offset=0&status=no_answer",
        "limit=2&offset=2&status=no_answer",
    ]


def test_lazy_pages_start_at_an_offset_and_read_as_the_eager_ones(server: RunningServer) -> None:
    pages = [[call(1, 5), call(2, -1)], [call(3, -2), call(4, -3)], [call(5, -4)]]
    for page in pages:
        server.app.queue(Reply(200, {"data": page}))

    async def scenario() -> list[str]:
        async with AsyncCaseyClient("sk_test_recent", base_url=server.base_url) as client:
            lazy = recent_lazy_pages(client, "demo-outbound", cutoff=CUTOFF, page_size=2, offset=4)
            return [c.id async for page in lazy for c in page]

    assert asyncio.run(scenario()) == ["c1", "c2", "c3", "c4"]
    assert [r.query for r in server.app.requests] == ["limit=2&offset=4", "limit=2&offset=6"]
