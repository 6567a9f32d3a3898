"""API errors end the flows clearly: the right message in the final state, no retries where a
retry cannot help, and never a hang.

401, 404 and 409 come from the sandbox over HTTP. 403 and a server-side 422 on create are faults
the sandbox does not produce on demand, so they come from the scripted peer
(``tests/scripted_server.py``), which answers every list with an empty page.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from prefect.client.schemas.objects import State

from casey_flows.flows.place_call import place_call
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.reliability.conftest import numbers, run_campaign, save_block
from tests.scripted_server import Reply, scripted_server

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_server")]

# The session sandbox accepts any sk_test_ key; it refuses every live key with a 401.
WRONG_KEY = "sk_live_" + "WRONGKEY_0f3c9a7e51d2"  # built at run time: no key-shaped literal
NUMBER = "+13035550142"


def run_place_call(sandbox_like: Any, block: str, connection: str, **params: Any) -> State:
    return asyncio.run(
        place_call(
            phone_number=NUMBER,
            connection_code=connection,
            credentials_block=block,
            timeout_seconds=30,
            return_state=True,
            **params,
        )
    )


def requests_by_status(stats: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for codes in stats["requests"].values():
        for status, n in codes.items():
            totals[status] = totals.get(status, 0) + n
    return totals


# -- 401 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["place_call", "call_campaign"])
def test_401_fails_fast_naming_the_block_never_the_key(
    clean_sandbox: EmbeddedSandbox, flow: str
) -> None:
    block = save_block("casey-wrong-key", WRONG_KEY, clean_sandbox.base_url)
    started = time.monotonic()
    if flow == "place_call":
        state = run_place_call(clean_sandbox, block, clean_sandbox.call_out_connection)
    else:
        state = run_campaign(
            clean_sandbox, block, contacts=[{"phone_number": p} for p in numbers(5)]
        )
    assert state.is_failed(), state.message
    message = state.message or ""
    assert "credentials block 'casey-wrong-key'" in message, message
    assert "401" in message
    assert WRONG_KEY not in message and "WRONGKEY" not in message
    with pytest.raises(Exception) as raised:
        state.result()
    assert WRONG_KEY not in str(raised.value) and WRONG_KEY not in repr(raised.value)
    # One request, answered 401, and nothing after it: no retry of a rejected key.
    stats = clean_sandbox.admin.stats()
    assert requests_by_status(stats) == {"401": 1}, stats["requests"]
    assert stats["creates_total"] == 0
    assert time.monotonic() - started < 30


# -- 404 / 409 from the sandbox -----------------------------------------------------------------


@pytest.mark.parametrize("flow", ["place_call", "call_campaign"])
@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("no-such-connection", ("404", "connection_not_found", "no-such-connection")),
        # place_call learns it from the create's 409; a campaign reads the connection first.
        ("demo-web", ("409", "not_call_out", "call_out")),
    ],
)
def test_unknown_or_non_call_out_connection_fails_with_the_reason(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    flow: str,
    connection: str,
    expected: tuple[str, ...],
) -> None:
    if flow == "place_call":
        state = run_place_call(clean_sandbox, credentials_block, connection)
    else:
        state = run_campaign(
            clean_sandbox,
            credentials_block,
            connection_code=connection,
            contacts=[{"phone_number": p} for p in numbers(5)],
        )
    status, parts = expected[0], expected
    if flow == "call_campaign" and connection == "demo-web":  # only the connection read was sent
        status, parts = "200", ("'demo-web' has channel_type 'web'", "need a call_out connection")
    assert state.is_failed(), state.message
    for part in parts:
        assert part in (state.message or ""), state.message
    stats = clean_sandbox.admin.stats()
    assert stats["creates_total"] == 0
    assert set(requests_by_status(stats)) == {status}, stats["requests"]


# -- 403 / 422 from the scripted peer -------------------------------------------------------------


# A campaign reads its connection before it dials, then scans the call list (the ledger).
CALL_OUT_CONNECTION = Reply(
    200, {"data": {"connection_code": "demo-outbound", "channel_type": "call_out"}}
)
EMPTY_LEDGER = Reply(200, {"data": []})
CREATED_CALL = {
    "id": "5b3c3f0e-3a2b-4f43-9a57-1c6b1f8f7d10",
    "phone_number": "+13035550001",
    "status": "completed",
    "ended_reason": "customer_ended_call",
    "created_at": "2026-01-01T00:00:00+00:00",
}
FORBIDDEN = Reply(
    403, {"error": {"code": "forbidden", "message": "This key lacks the calls:write scope."}}
)
UNPROCESSABLE = Reply(
    422,
    {"error": {"code": "unprocessable", "message": "Number +13035550142 is not reachable."}},
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [(FORBIDDEN, ("403", "calls:write")), (UNPROCESSABLE, ("422", "not reachable"))],
)
def test_403_and_422_on_create_fail_place_call_with_the_reason(
    prefect_server: None, reply: Reply, expected: tuple[str, ...]
) -> None:
    with scripted_server() as peer:
        block = save_block("casey-scripted", "sk_test_scripted", peer.base_url)
        peer.app.queue(reply)
        state = run_place_call(peer, block, "demo-outbound")
    assert state.is_failed(), state.message
    message = state.message or ""
    for part in expected:
        assert part in message, message
    assert NUMBER not in message and NUMBER[1:] not in message, "the number must be masked"
    posts = [r for r in peer.app.requests if r.method == "POST"]
    assert len(posts) == 1, "a 403/422 is a final answer: no second create"


def campaign_on_scripted_peer(
    replies: list[Reply], phones: list[str], **params: Any
) -> tuple[State, list[Any]]:
    """A campaign against the scripted peer: its final state and every request it sent.

    After ``replies`` the peer answers everything with CREATED_CALL.
    """
    with scripted_server() as peer:
        block = save_block("casey-scripted", "sk_test_scripted", peer.base_url)
        peer.app.queue(*replies)
        peer.app.default = Reply(200, {"data": CREATED_CALL})
        state = run_campaign(
            peer,  # type: ignore[arg-type]
            block,
            connection_code="demo-outbound",
            contacts=[{"phone_number": p} for p in phones],
            **params,
        )
    return state, peer.app.requests


def test_403_on_create_fails_the_campaign_instead_of_marking_every_contact(
    prefect_server: None,
) -> None:
    """A key without the scope to call fails the run once, loudly; it is not 50 row errors."""
    state, requests = campaign_on_scripted_peer(
        [CALL_OUT_CONNECTION, EMPTY_LEDGER, *[FORBIDDEN] * 60],
        numbers(50),
        limits={"max_concurrent_calls": 5},
    )
    assert state.is_failed(), state.message
    assert "403" in (state.message or "") and "calls:write" in (state.message or "")
    posts = [r for r in requests if r.method == "POST"]
    # At most the creates already under way when the first 403 came back (5 slots, +1 racing).
    assert len(posts) <= 6, f"{len(posts)} creates after the first 403"


def test_422_on_one_create_is_that_contacts_error_and_the_rest_go_on(
    prefect_server: None,
) -> None:
    """A server-side rejection of one row is reported on that row; the message says so."""
    state, _ = campaign_on_scripted_peer(
        [CALL_OUT_CONNECTION, EMPTY_LEDGER, UNPROCESSABLE, Reply(201, {"data": CREATED_CALL})],
        numbers(2),
        limits={"max_concurrent_calls": 1},
    )
    assert state.is_completed(), state.message
    result = state.result()
    errors = result.by_outcome("error")
    assert len(errors) == 1 and "not reachable" in (errors[0].reason or "")
    assert "1 error" in (state.message or ""), state.message
    assert "not reachable" in (state.message or ""), "the final message names the first error"


def test_a_key_that_cannot_read_connections_still_runs_the_campaign(
    prefect_server: None,
) -> None:
    """The connection check before dialling is advisory when the read itself is refused."""
    state, requests = campaign_on_scripted_peer(
        [FORBIDDEN, EMPTY_LEDGER, Reply(201, {"data": CREATED_CALL})],
        [CREATED_CALL["phone_number"]],
    )
    assert state.is_completed(), state.message
    assert state.result().counts == {"completed": 1}
    first = requests[0]
    assert (first.method, first.path) == ("GET", "/v1/backend/connections/demo-outbound")
    assert [r.method for r in requests].count("POST") == 1


# -- repeated 5xx -----------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["place_call", "call_campaign"])
def test_repeated_5xx_ends_in_a_clear_failure_in_bounded_time(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, flow: str
) -> None:
    clean_sandbox.admin.set_faults(error_5xx_rate=1.0)
    started = time.monotonic()
    try:
        if flow == "place_call":
            state = run_place_call(clean_sandbox, credentials_block, "demo-outbound")
        else:
            state = run_campaign(
                clean_sandbox, credentials_block, contacts=[{"phone_number": p} for p in numbers(5)]
            )
    finally:
        clean_sandbox.admin.set_faults()
    elapsed = time.monotonic() - started
    assert state.is_failed(), state.message
    assert "503" in (state.message or ""), state.message
    assert elapsed < 45, f"took {elapsed:.0f} s"
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_5xx_storm_mid_campaign_ends_in_bounded_time_without_losing_contacts(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    """The API starts failing every request while calls are live and creates are ambiguous.

    The run must end (not wait forever on a ledger it cannot read), and every contact must be
    accounted for: an outcome, or a failed run that says why.
    """
    phones = numbers(40, start=500)

    def start_storm() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if clean_sandbox.admin.stats()["creates_total"] >= 10:
                clean_sandbox.admin.set_faults(error_5xx_rate=1.0)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=start_storm, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        state = run_campaign(
            clean_sandbox,
            credentials_block,
            contacts=[{"phone_number": p} for p in phones],
            campaign_id="storm",
            limits={
                "max_concurrent_calls": 5,
                "max_requests_per_second": 20.0,
                "call_timeout_seconds": 6,
            },
        )
    finally:
        watcher.join()
        clean_sandbox.admin.set_faults()
    elapsed = time.monotonic() - started
    assert elapsed < 90, f"took {elapsed:.0f} s"
    stats = clean_sandbox.admin.stats()
    assert stats["duplicates"]["dispatch_keys"] == {}
    if state.is_completed():
        result = state.result()
        assert {o.phone_number for o in result.outcomes} == set(phones)
        unconfirmed = result.by_outcome("error")
        assert all("503" in (o.reason or "") for o in unconfirmed), unconfirmed
        if unconfirmed:
            assert "first error" in (state.message or "") and "503" in (state.message or "")
    else:
        assert state.is_failed(), state
        message = state.message or ""
        assert "503" in message and "re-run with the same campaign_id" in message, message
