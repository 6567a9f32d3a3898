"""The dispatch ledger over real HTTP (a scripted peer serves exactly the pages we choose)."""

from __future__ import annotations

import asyncio
from typing import Any

from casey_flows.client import AsyncCaseyClient
from casey_flows.tasks.dispatch import find_dispatched
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
