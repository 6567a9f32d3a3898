"""The dispatch ledger over real HTTP (a scripted peer serves exactly the pages we choose)."""

from __future__ import annotations

import asyncio
from typing import Any

from casey_flows.client import AsyncCaseyClient, Call
from casey_flows.core.dispatch import find_dispatched
from tests.scripted_server import Reply, scripted_server


def call(call_id: str, key: str) -> dict[str, Any]:
    return {"id": call_id, "status": "completed", "context": {"dispatch_key": key}}


def ledger(pages: list[list[dict[str, Any]]]) -> tuple[dict[str, list[str]], int]:
    """Serve ``pages``, scan for keys k and j with no horizon: (call ids by key, list reads)."""
    with scripted_server() as server:
        for page in pages:
            server.app.queue(Reply(200, {"data": page}))

        async def scan() -> dict[str, list[str]]:
            async with AsyncCaseyClient("sk_test_ledger", base_url=server.base_url) as client:
                found = await find_dispatched(client, "demo-outbound", ["k", "j"])
                return {key: [c.id for c in calls] for key, calls in found.items()}

        return asyncio.run(scan()), len(server.app.requests)


def test_every_call_of_a_key_is_kept_oldest_first() -> None:
    found, _ = ledger([[call("newer", "k"), call("other", "x"), call("older", "k")]])
    assert found == {"k": ["older", "newer"]}


def test_a_call_repeated_by_offset_paging_is_not_a_duplicate() -> None:
    # 100 calls a page: a create at the head between two reads shifts the list by one, so the
    # last call of page one comes again first on page two. Same id: one call, not two.
    first = [call(f"c{i}", "x") for i in range(99)] + [call("edge", "k")]
    second = [call("edge", "k"), call("first-of-j", "j")]
    assert ledger([first, second]) == ({"k": ["edge"], "j": ["first-of-j"]}, 2)


def test_without_a_horizon_the_scan_stops_once_every_key_is_found() -> None:
    full_page = [call("k1", "k"), call("j1", "j")] + [call(f"c{i}", "x") for i in range(98)]
    # A full page, yet no second read.
    assert ledger([full_page]) == ({"k": ["k1"], "j": ["j1"]}, 1)


def test_a_scan_with_a_horizon_reads_to_it_however_many_calls_that_is() -> None:
    """Bounded by time, not a call count: a campaign bigger than ``max_calls`` re-runs."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    recent = [
        {**call(f"c{p}-{i}", "x"), "created_at": now.isoformat()}
        for p in range(3)
        for i in range(100)
    ]
    pages = [recent[i : i + 100] for i in range(0, 300, 100)]
    pages.append([{**call("old-k", "k"), "created_at": (now - timedelta(hours=1)).isoformat()}])
    with scripted_server() as server:
        for page in pages:
            server.app.queue(Reply(200, {"data": page}))

        async def scan() -> dict[str, list[Call]]:
            async with AsyncCaseyClient("sk_test_ledger", base_url=server.base_url) as client:
                return await find_dispatched(
                    client,
                    "demo-outbound",
                    ["k"],
                    since=now - timedelta(hours=2),
                    max_calls=100,
                )

        found = asyncio.run(scan())
    assert [c.id for c in found["k"]] == ["old-k"]


def test_without_a_horizon_a_scan_past_max_calls_refuses_to_guess() -> None:
    import pytest

    from casey_flows.exceptions import LedgerScanIncomplete

    pages = [[call(f"c{p}-{i}", "x") for i in range(100)] for p in range(2)]
    with scripted_server() as server:
        for page in pages:
            server.app.queue(Reply(200, {"data": page}))

        async def scan() -> None:
            async with AsyncCaseyClient("sk_test_ledger", base_url=server.base_url) as client:
                await find_dispatched(client, "demo-outbound", ["k"], max_calls=100)

        with pytest.raises(LedgerScanIncomplete):
            asyncio.run(scan())
