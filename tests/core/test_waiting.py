"""The wait protocol against the sandbox: sweeps, transient errors, deadlines, transitions."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta, timezone

import pytest

from casey_flows.client import AsyncCaseyClient, Call, RetryPolicy
from casey_flows.client.pages import CallPage
from casey_flows.core.waiting import CallWatcher, WaitPolicy, WaitResult
from casey_flows.sandbox.embedded import EmbeddedSandbox

QUICK = WaitPolicy(min_poll_seconds=0.1, max_poll_seconds=0.3, timeout_seconds=20)


def client_for(sandbox: EmbeddedSandbox, retries: int = 0) -> AsyncCaseyClient:
    return AsyncCaseyClient(
        sandbox.api_key, base_url=sandbox.base_url, retry_policy=RetryPolicy(max_retries=retries)
    )


async def create_calls(
    client: AsyncCaseyClient, sandbox: EmbeddedSandbox, phones: list[str]
) -> list[Call]:
    return [await client.create_call(sandbox.call_out_connection, p) for p in phones]


def requests_by_route(sandbox: EmbeddedSandbox) -> dict[str, int]:
    return {
        route: sum(codes.values()) for route, codes in sandbox.admin.stats()["requests"].items()
    }


def test_many_calls_are_swept_not_fetched_one_by_one(clean_sandbox: EmbeddedSandbox) -> None:
    phones = [f"+1202555{2000 + i:04d}" for i in range(30)]

    async def scenario() -> WaitResult:
        async with client_for(clean_sandbox) as client:
            calls = await create_calls(client, clean_sandbox, phones)
            return await CallWatcher(client, clean_sandbox.call_out_connection, QUICK).wait(calls)

    result = asyncio.run(scenario())
    assert len(result.ended) == 30 and not result.still_open
    routes = requests_by_route(clean_sandbox)
    gets = routes.get("GET /v1/backend/connections/{code}/calls/{call_id}", 0)
    lists = routes.get("GET /v1/backend/connections/{code}/calls", 0)
    assert lists + gets == result.requests
    # One request per poll: a list page while many are open, a GET once only one is left.
    assert result.requests == result.polls
    assert lists > gets


def test_one_call_is_fetched_directly(clean_sandbox: EmbeddedSandbox) -> None:
    async def scenario() -> WaitResult:
        async with client_for(clean_sandbox) as client:
            calls = await create_calls(client, clean_sandbox, ["+12025550100"])
            return await CallWatcher(client, clean_sandbox.call_out_connection, QUICK).wait(calls)

    result = asyncio.run(scenario())
    assert [c.status for c in result.ended.values()] == ["completed"]
    routes = requests_by_route(clean_sandbox)
    assert routes.get("GET /v1/backend/connections/{code}/calls", 0) == 0


def test_transient_poll_errors_never_fail_the_wait(clean_sandbox: EmbeddedSandbox) -> None:
    async def scenario() -> WaitResult:
        async with client_for(clean_sandbox, retries=0) as client:
            calls = await create_calls(client, clean_sandbox, ["+12025550100", "+12025552001"])
            clean_sandbox.admin.set_faults(next_5xx=3)
            return await CallWatcher(client, clean_sandbox.call_out_connection, QUICK).wait(calls)

    result = asyncio.run(scenario())
    assert result.poll_errors == 3
    assert len(result.ended) == 2


def test_deadline_returns_open_calls_without_cancelling(clean_sandbox: EmbeddedSandbox) -> None:
    policy = WaitPolicy(min_poll_seconds=0.1, max_poll_seconds=0.2, timeout_seconds=3.0)

    async def scenario() -> tuple[WaitResult, float]:
        async with client_for(clean_sandbox) as client:
            calls = await create_calls(client, clean_sandbox, ["+12025550999", "+12025550100"])
            started = time.monotonic()
            result = await CallWatcher(client, clean_sandbox.call_out_connection, policy).wait(
                calls
            )
            return result, time.monotonic() - started

    result, waited = asyncio.run(scenario())
    assert 3.0 <= waited < 4.5, "a wall-clock deadline, not a sum of sleeps"
    assert [c.phone_number for c in result.still_open.values()] == ["+12025550999"]
    assert [c.status for c in result.ended.values()] == ["completed"]
    live = clean_sandbox.admin.stats()["calls_by_status"]
    assert live.get("in_progress", 0) + live.get("ringing", 0) == 1


@pytest.mark.timeout(60)
def test_a_call_the_api_no_longer_knows_is_lost_not_waited_for(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    # The deadline is far past the test's timeout: only giving up on the 404s ends the wait.
    policy = WaitPolicy(
        min_poll_seconds=0.1, max_poll_seconds=0.2, timeout_seconds=600, lost_after_seconds=1.0
    )
    gone = Call(id="call_lost_in_a_crash", status="in_progress")

    async def scenario() -> WaitResult:
        async with client_for(clean_sandbox) as client:
            [real] = await create_calls(client, clean_sandbox, ["+12025550100"])
            watcher = CallWatcher(client, clean_sandbox.call_out_connection, policy)
            return await watcher.wait([real, gone])

    result = asyncio.run(scenario())
    assert list(result.lost) == [gone.id]
    assert [c.status for c in result.ended.values()] == ["completed"]
    assert result.still_open == {}
    assert clean_sandbox.admin.stats()["creates_total"] == 1


def test_each_transition_is_reported_once(clean_sandbox: EmbeddedSandbox) -> None:
    seen: list[tuple[str | None, str | None]] = []

    def record(call: Call, previous: str | None) -> None:
        seen.append((previous, call.normalized_status))

    async def scenario() -> None:
        async with client_for(clean_sandbox) as client:
            calls = await create_calls(client, clean_sandbox, ["+12025550486"])
            policy = WaitPolicy(min_poll_seconds=0.02, max_poll_seconds=0.05, timeout_seconds=10)
            watcher = CallWatcher(client, clean_sandbox.call_out_connection, policy, record)
            await watcher.wait(calls)

    asyncio.run(scenario())
    assert seen[0][0] is None and seen[-1][1] == "busy"
    assert len(seen) == len(set(seen)), "no transition reported twice"
    for (_, after), (before, _) in itertools.pairwise(seen):
        assert after == before


def test_unknown_terminal_vocabulary_is_configurable() -> None:
    policy = WaitPolicy(terminal_statuses=frozenset({"All-Done"}))
    assert policy.terminal_statuses == frozenset({"all_done"})
    assert Call(id="x", status="all done").is_terminal(policy.terminal_statuses)
    assert not Call(id="x", status="completed").is_terminal(policy.terminal_statuses)


class ScriptedPages:
    """A client stand-in for the sweep: each list request answers the next queued page."""

    def __init__(self, *pages: list[dict[str, object]]) -> None:
        self.pages = list(pages)
        self.offsets: list[object] = []

    async def list_call_page(self, connection_code: str, **params: object) -> CallPage:
        self.offsets.append(params["offset"])
        return CallPage(self.pages.pop(0))

    async def get_call(self, connection_code: str, call_id: str) -> Call:
        raise AssertionError(f"no call is read by id here ({call_id})")


def test_a_sweep_validates_only_calls_whose_json_changed() -> None:
    def raw(n: int, status: str = "in_progress", **fields: object) -> dict[str, object]:
        stamp = f"2026-11-26T21:53:{30 - n:02d}+00:00"
        return {"id": f"c{n}", "status": status, "created_at": stamp, **fields}

    calls = [raw(1), raw(2), raw(3)]
    client = ScriptedPages(
        calls,
        [raw(1), raw(2), raw(3)],
        [raw(1, conversation_id="conv-1"), raw(2), raw(3)],
        [raw(1, conversation_id="conv-1"), raw(2, "completed"), raw(3)],
    )
    watcher = CallWatcher(client, "demo-outbound", QUICK)  # type: ignore[arg-type]
    pending = {c["id"]: Call.model_validate(c) for c in calls}  # type: ignore[misc]
    result = WaitResult()

    async def polls() -> list[dict[str, Call]]:
        seen = []
        for _ in range(4):
            await watcher.poll(pending, result)
            seen.append(dict(pending))
        return seen

    first, second, third, fourth = asyncio.run(polls())
    assert all(second[i] is first[i] for i in first), "read again unchanged: the same Call"
    assert third["c1"] is not second["c1"] and third["c1"].conversation_id == "conv-1"
    assert third["c2"] is second["c2"] and third["c3"] is second["c3"]
    assert fourth["c1"] is third["c1"]
    assert list(result.ended) == ["c2"] and result.ended["c2"].status == "completed"
    assert result.requests == 4 and result.poll_errors == 0


def test_a_sweep_starts_below_calls_too_young_to_have_ended() -> None:
    now = datetime.now(timezone.utc)

    def raw(n: int, age: float, status: str = "in_progress") -> dict[str, object]:
        return {"id": f"c{n}", "status": status, "created_at": (now - timedelta(seconds=age))}

    def stamped(item: dict[str, object]) -> dict[str, object]:
        return {**item, "created_at": item["created_at"].isoformat()}  # type: ignore[attr-defined]

    young, old = [raw(1, 0.1), raw(2, 0.2)], [raw(3, 30), raw(4, 31), raw(5, 32)]
    # The list below the two young calls: another client's call, then ours; one has ended.
    page = [raw(9, 20), raw(3, 30), raw(4, 31, "completed"), raw(5, 32), raw(6, 40)]
    client = ScriptedPages([stamped(c) for c in page])
    watcher = CallWatcher(client, "demo-outbound", QUICK)  # type: ignore[arg-type]
    # Twenty calls seen end, each last seen open at 30 s: nothing ends much younger.
    finished = [Call(id=f"f{n}", created_at=now - timedelta(seconds=31)) for n in range(20)]
    watcher.ages.seen(finished, [], now.timestamp() - 1)
    watcher.ages.seen([], finished, now.timestamp())
    pending = {c["id"]: Call.model_validate(stamped(c)) for c in young + old}  # type: ignore[misc]
    result = WaitResult()

    assert asyncio.run(watcher.poll(pending, result)) is True
    assert client.offsets == [2], "the two young calls' places skipped"
    assert list(result.ended) == ["c4"] and result.requests == 1
    assert sorted(pending) == ["c1", "c2", "c3", "c5"], "young calls still watched, not lost"
    assert not result.not_found


def test_a_skip_that_missed_a_wanted_call_is_paused() -> None:
    """A list that trails creates shows older calls where the young ones would be: the sweep
    below them misses wanted calls, reads them by id, and the next polls read from the top;
    the young calls it does not show yet are not read by id."""
    now = datetime.now(timezone.utc)

    def raw(n: int, age: float) -> dict[str, object]:
        stamp = (now - timedelta(seconds=age)).isoformat()
        return {"id": f"c{n}", "status": "in_progress", "created_at": stamp}

    class Lagging(ScriptedPages):
        async def get_call(self, connection_code: str, call_id: str) -> Call:
            self.gets.append(call_id)
            return Call.model_validate(raw(int(call_id[1:]), 30))

    # The list does not show the two young calls yet: its top is c3, c4, then c5 and older.
    listed = [raw(3, 30), raw(4, 31), raw(5, 32), raw(6, 40)]
    client = Lagging(listed[2:], listed)
    client.gets = []  # type: ignore[attr-defined]
    watcher = CallWatcher(client, "demo-outbound", QUICK)  # type: ignore[arg-type]
    finished = [Call(id=f"f{n}", created_at=now - timedelta(seconds=31)) for n in range(20)]
    watcher.ages.seen(finished, [], now.timestamp() - 1)
    watcher.ages.seen([], finished, now.timestamp())
    pending = {
        c["id"]: Call.model_validate(c)  # type: ignore[misc]
        for c in [raw(1, 0.1), raw(2, 0.2), raw(3, 30), raw(4, 31), raw(5, 32)]
    }
    result = WaitResult()

    async def two_polls() -> None:
        await watcher.poll(pending, result)
        await watcher.poll(pending, result)

    asyncio.run(two_polls())
    assert client.offsets == [2, 0], "skipped two places, missed c3 and c4, then read from top"
    gets = client.gets  # type: ignore[attr-defined]
    assert sorted(gets) == ["c3", "c4"], "c1, c2: not listed yet, too young to read by id"
    assert not result.not_found and len(pending) == 5


def test_a_call_dialled_while_a_sweep_waits_is_left_to_the_next_poll() -> None:
    now = datetime.now(timezone.utc)

    def raw(n: int, age: float) -> dict[str, object]:
        stamp = (now - timedelta(seconds=age)).isoformat()
        return {"id": f"c{n}", "status": "in_progress", "created_at": stamp}

    pending = {c["id"]: Call.model_validate(c) for c in [raw(1, 30), raw(2, 31)]}  # type: ignore[misc]

    class DialsMeanwhile(ScriptedPages):
        async def list_call_page(self, connection_code: str, **params: object) -> CallPage:
            pending["c9"] = Call.model_validate(raw(9, 0))  # the engine dials as we wait
            return await super().list_call_page(connection_code, **params)

    client = DialsMeanwhile([raw(1, 30), raw(2, 31)], [raw(9, 0), raw(1, 30), raw(2, 31)])
    watcher = CallWatcher(client, "demo-outbound", QUICK)  # type: ignore[arg-type]
    result = WaitResult()
    asyncio.run(watcher.poll(pending, result))  # no GET of c9 (ScriptedPages refuses GETs)
    assert result.requests == 1 and sorted(pending) == ["c1", "c2", "c9"]
    asyncio.run(watcher.poll(pending, result))
    assert result.requests == 2 and client.offsets == [0, 0]
