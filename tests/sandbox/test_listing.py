"""Listing calls: newest first, limit/offset paging over 250 calls, exact status filter."""

from __future__ import annotations

import httpx

from casey_flows.sandbox.embedded import running_sandbox
from casey_flows.sandbox.testing import wait_for


def test_paging_250_calls_newest_first():
    with running_sandbox(speed=0.001, rate_limit_per_s=0, concurrency_cap=0) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        created = [
            c.post(
                s.calls_path(), json={"phone_number": f"+1718555{i:04d}", "context": {"i": i}}
            ).json()["data"]["id"]
            for i in range(250)
        ]
        default = c.get(s.calls_path()).json()["data"]
        assert len(default) == 20
        seen: list[str] = []
        offset = 0
        while True:
            page = c.get(s.calls_path(), params={"limit": 100, "offset": offset}).json()["data"]
            seen += [x["id"] for x in page]
            if len(page) < 100:
                break
            offset += 100
        assert seen == created[::-1]
        assert [x["id"] for x in default] == created[::-1][:20]
        page = c.get(s.calls_path(), params={"limit": 7, "offset": 245}).json()["data"]
        assert [x["context"]["i"] for x in page] == [4, 3, 2, 1, 0]
        assert c.get(s.calls_path(), params={"offset": 1000}).json()["data"] == []
        created_at = [x["created_at"] for x in c.get(s.calls_path()).json()["data"]]
        assert created_at == sorted(created_at, reverse=True)


def test_status_filter_is_exact(client, sb):
    for suffix in ("0486", "0486", "0408", "0100"):
        client.post(sb.calls_path(), json={"phone_number": f"+1415555{suffix}"})
    wait_for(lambda: sb.admin.stats()["live_calls"] == 0)
    busy = client.get(sb.calls_path(), params={"status": "busy"}).json()["data"]
    assert len(busy) == 2 and {x["status"] for x in busy} == {"busy"}
    assert len(client.get(sb.calls_path(), params={"status": "no_answer"}).json()["data"]) == 1
    assert client.get(sb.calls_path(), params={"status": "BUSY"}).json()["data"] == []
    assert client.get(sb.calls_path(), params={"status": "whatever"}).json()["data"] == []
    paged = client.get(sb.calls_path(), params={"status": "busy", "limit": 1, "offset": 1})
    assert [x["id"] for x in paged.json()["data"]] == [busy[1]["id"]]
