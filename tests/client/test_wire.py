"""The client's wire format, error mapping, retry rules and secret hygiene, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from casey_flows import client as casey
from casey_flows.client import errors
from casey_flows.client.retry import RetryPolicy, parse_retry_after
from tests.scripted_server import Reply, RunningServer, scripted_server

KEY = "sk_test_CANARY_wire_0123456789"
PHONE = "+14155550123"
CALL = {
    "id": "6f1c1d7e-8d7a-4a3e-9d55-0d8f7c1a2b3c",
    "direction": "outbound",
    "connection_code": "demo-outbound",
    "name": "Ada",
    "phone_number": PHONE,
    "phone_call_provider": "sandbox",
    "conversation_id": None,
    "status": "queued",
    "ended_reason": None,
    "context": {"dispatch_key": "k1"},
    "created_at": "2026-11-26T21:53:30.123456+00:00",
}
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with scripted_server() as running:
        yield running


def client_for(server: RunningServer, **kwargs: object) -> casey.CaseyClient:
    kwargs.setdefault("retry_policy", FAST)
    return casey.CaseyClient(KEY, base_url=server.base_url, **kwargs)  # type: ignore[arg-type]


def test_create_call_wire_format(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": CALL}))
    with client_for(server) as client:
        call = client.create_call(
            "demo-outbound",
            PHONE,
            name="Ada",
            participant_id="0b8a5a0e-7f5e-4b8f-8f8e-6f1c9d1e2a3b",
            context={"dispatch_key": "k1"},
            idempotency_key="k1",
        )
    [request] = server.app.requests
    assert request.method == "POST"
    assert request.path == "/v1/backend/connections/demo-outbound/calls"
    assert request.query == ""
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == f"casey-flows/{casey.__version__}"
    assert request.headers["idempotency-key"] == "k1"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "phone_number": PHONE,
        "name": "Ada",
        "participant_id": "0b8a5a0e-7f5e-4b8f-8f8e-6f1c9d1e2a3b",
        "context": {"dispatch_key": "k1"},
    }
    assert call.id == CALL["id"]
    assert call.created_at == datetime(2026, 11, 26, 21, 53, 30, 123456, tzinfo=timezone.utc)
    assert call.created_at_raw == CALL["created_at"]


def test_create_sends_only_given_fields(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": CALL}))
    with client_for(server) as client:
        client.create_call("demo-outbound", PHONE)
    [request] = server.app.requests
    assert request.json() == {"phone_number": PHONE}
    assert "idempotency-key" not in request.headers


def test_get_and_list_wire_format(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": CALL}), Reply(200, {"data": [CALL]}))
    with client_for(server) as client:
        client.get_call("demo outbound/x", CALL["id"])
        calls = client.list_calls("demo-outbound", limit=5, offset=10, status="in_progress")
    get, listing = server.app.requests
    assert (get.method, get.path) == (
        "GET",
        f"/v1/backend/connections/demo%20outbound%2Fx/calls/{CALL['id']}",
    )
    assert get.body == b""
    assert (listing.method, listing.path) == ("GET", "/v1/backend/connections/demo-outbound/calls")
    assert listing.query == "limit=5&offset=10&status=in_progress"
    assert [c.id for c in calls] == [CALL["id"]]


def test_iter_calls_pages_by_offset_until_short_page(server: RunningServer) -> None:
    pages = [
        [{**CALL, "id": f"c{o + i}"} for i in range(n)]
        for o, n in ((0, 100), (100, 100), (200, 50))
    ]
    server.app.queue(*(Reply(200, {"data": page}) for page in pages))
    with client_for(server) as client:
        ids = [call.id for call in client.iter_calls("demo-outbound")]
    assert ids == [f"c{i}" for i in range(250)]
    assert [r.query for r in server.app.requests] == [
        "limit=100&offset=0",
        "limit=100&offset=100",
        "limit=100&offset=200",
    ]


def test_list_connections_follows_the_cursor(server: RunningServer) -> None:
    conn = {"connection_code": "a", "channel_type": "call_out"}
    server.app.queue(
        Reply(
            200,
            {
                "data": [conn],
                "pagination": {"has_more": True, "next_cursor": "cur1", "prev_cursor": None},
            },
        ),
        Reply(
            200,
            {
                "data": [{**conn, "connection_code": "b", "channel_type": "web"}],
                "pagination": {"has_more": False, "next_cursor": None, "prev_cursor": "cur1"},
            },
        ),
    )
    with client_for(server) as client:
        connections = client.list_connections(agent_id="ag1", page_size=1)
    assert [(c.connection_code, c.is_call_out) for c in connections] == [("a", True), ("b", False)]
    assert [r.query for r in server.app.requests] == [
        "limit=1&agent_id=ag1",
        "limit=1&after=cur1&agent_id=ag1",
    ]


@pytest.mark.parametrize(
    ("fields", "field", "shown"),
    [
        ({"phone_number": "+1415555012x"}, "phone_number", "+1•••••012x"),
        ({"phone_number": "14155550123"}, "phone_number", "•••••0123"),
        ({"phone_number": "+1415555012345678"}, "phone_number", "+1•••••5678"),
        ({"phone_number": PHONE, "name": "x" * 201}, "name", "at most 200"),
        ({"phone_number": PHONE, "participant_id": "not-a-uuid"}, "participant_id", "not-a-uuid"),
    ],
)
def test_invalid_requests_fail_before_sending(
    server: RunningServer, fields: dict, field: str, shown: str
) -> None:
    with client_for(server) as client, pytest.raises(errors.InvalidRequestError) as caught:
        client.create_call("demo-outbound", **fields)
    assert caught.value.field == field
    assert field in str(caught.value) and shown in str(caught.value)
    assert fields["phone_number"] not in str(caught.value) or field != "phone_number"
    assert server.app.requests == []


@pytest.mark.parametrize(
    ("limit", "offset", "field"), [(0, 0, "limit"), (101, 0, "limit"), (20, -1, "offset")]
)
def test_list_arguments_checked_before_sending(
    server: RunningServer, limit: int, offset: int, field: str
) -> None:
    with client_for(server) as client, pytest.raises(errors.InvalidRequestError) as caught:
        client.list_calls("demo-outbound", limit=limit, offset=offset)
    assert caught.value.field == field
    assert server.app.requests == []


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, errors.InvalidRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.InvalidRequestError),
        (418, errors.APIStatusError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (503, errors.ServerError),
    ],
)
def test_error_statuses_map_to_typed_errors(
    server: RunningServer, status: int, error_class: type
) -> None:
    body = {"error": {"code": f"code_{status}", "message": f"message {status}"}}
    server.app.queue(Reply(status, body, headers={"x-request-id": "req_123"}))
    client = client_for(server, retry_policy=RetryPolicy(max_retries=0))
    with client, pytest.raises(error_class) as caught:
        client.get_call("demo-outbound", "abc")
    error = caught.value
    assert type(error) is error_class
    assert (error.status_code, error.code, error.message, error.request_id) == (
        status,
        f"code_{status}",
        f"message {status}",
        "req_123",
    )


def test_short_link_style_envelope_and_non_json_bodies(server: RunningServer) -> None:
    server.app.queue(
        Reply(
            404,
            {
                "error": {"code": "not_found", "message": "no such call"},
                "details": {},
                "meta": {"request_id": "req_meta", "timestamp": "t"},
            },
        ),
        Reply(502, text="<html>Bad gateway</html>"),
    )
    with client_for(server, retry_policy=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(errors.NotFoundError) as first:
            client.get_call("demo-outbound", "abc")
        with pytest.raises(errors.ServerError) as second:
            client.get_call("demo-outbound", "abc")
    assert first.value.request_id == "req_meta"
    assert second.value.status_code == 502 and second.value.code is None
    assert "Bad gateway" in second.value.message


def test_get_retries_transient_failures_then_succeeds(server: RunningServer) -> None:
    server.app.queue(
        Reply(503, {"error": {"code": "x", "message": "busy"}}),
        Reply(500, text="oops"),
        Reply(200, {"data": CALL}),
    )
    with client_for(server) as client:
        call = client.get_call("demo-outbound", CALL["id"])
    assert call.id == CALL["id"]
    assert len(server.app.requests) == 3


def test_get_gives_up_after_max_retries(server: RunningServer) -> None:
    server.app.default = Reply(500, {"error": {"code": "boom", "message": "down"}})
    with client_for(server) as client, pytest.raises(errors.ServerError):
        client.get_call("demo-outbound", "abc")
    assert len(server.app.requests) == 1 + FAST.max_retries


def test_authentication_error_is_not_retried(server: RunningServer) -> None:
    server.app.default = Reply(401, {"error": {"code": "unauthorized", "message": "bad key"}})
    with client_for(server) as client, pytest.raises(errors.AuthenticationError):
        client.list_calls("demo-outbound")
    assert len(server.app.requests) == 1


@pytest.mark.parametrize(("status", "code"), [(429, "rate_limited"), (503, "unavailable")])
def test_retry_after_seconds_is_honoured(server: RunningServer, status: int, code: str) -> None:
    server.app.queue(
        Reply(
            status, {"error": {"code": code, "message": "slow down"}}, headers={"Retry-After": "1"}
        ),
        Reply(200, {"data": []}),
    )
    with client_for(server) as client:
        started = time.monotonic()
        client.list_calls("demo-outbound")
        waited = time.monotonic() - started
    assert len(server.app.requests) == 2
    assert waited >= 0.95


def test_retry_after_http_date_and_garbage() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Thu, 26 Nov 2026 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_longer_than_the_budget_gives_up_at_once(server: RunningServer) -> None:
    server.app.queue(
        Reply(
            429,
            {"error": {"code": "rate_limited", "message": "later"}},
            headers={"Retry-After": "3600"},
        )
    )
    policy = RetryPolicy(max_retries=3, max_total_seconds=5, max_retry_after=3600)
    with client_for(server, retry_policy=policy) as client:
        started = time.monotonic()
        with pytest.raises(errors.RateLimitError) as caught:
            client.list_calls("demo-outbound")
    assert caught.value.retry_after == 3600
    assert time.monotonic() - started < 2
    assert len(server.app.requests) == 1


def test_create_is_retried_after_429(server: RunningServer) -> None:
    server.app.queue(
        Reply(
            429, {"error": {"code": "rate_limited", "message": "x"}}, headers={"Retry-After": "0"}
        ),
        Reply(200, {"data": CALL}),
    )
    with client_for(server) as client:
        call = client.create_call("demo-outbound", PHONE, idempotency_key="k1")
    assert call.id == CALL["id"]
    assert len(server.app.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"error": {"code": "internal", "message": "x"}}),
        Reply(502, text="bad gateway"),
        Reply(200, {"data": CALL}, action="drop"),
        Reply(200, {"data": CALL}, stall_seconds=1.5),
    ],
    ids=["500", "502-text", "dropped-connection", "read-timeout"],
)
def test_ambiguous_create_is_never_resent(server: RunningServer, reply: Reply) -> None:
    server.app.queue(reply)
    server.app.default = Reply(200, {"data": CALL})
    with client_for(server, timeout=httpx.Timeout(0.5)) as client:
        with pytest.raises(errors.AmbiguousDispatchError) as caught:
            client.create_call("demo-outbound", PHONE, idempotency_key="campaign:c1:attempt:1")
        time.sleep(0.2)
    error = caught.value
    assert len(server.app.requests) == 1
    assert error.idempotency_key == "campaign:c1:attempt:1"
    assert error.connection_code == "demo-outbound"
    assert error.masked_phone == "+1•••••0123"
    assert PHONE not in str(error) and PHONE not in repr(error)
    assert error.sent_at <= datetime.now(timezone.utc)


def test_connection_refused_is_retried_then_reported() -> None:
    with scripted_server() as gone:
        url = gone.base_url
    client = casey.CaseyClient(KEY, base_url=url, retry_policy=FAST)
    with pytest.raises(errors.APIConnectionError) as caught:
        client.create_call("demo-outbound", PHONE)
    assert not isinstance(caught.value, errors.AmbiguousDispatchError)
    assert "after 4 attempt(s)" in str(caught.value)


def test_unknown_statuses_and_fields_are_kept(server: RunningServer) -> None:
    odd = {
        **CALL,
        "status": "Ringing-Back",
        "ended_reason": "Sky_Fell",
        "phone_call_provider": "carrier-pigeon",
        "created_at": "2026-11-26T21:53:30",
        "surprise": {"nested": [1, 2]},
    }
    del odd["direction"]
    server.app.queue(Reply(200, {"data": odd, "extra_top_level": True}))
    with client_for(server) as client:
        call = client.get_call("demo-outbound", CALL["id"])
    assert call.status == "Ringing-Back" and call.normalized_status == "ringing_back"
    assert not call.is_terminal()
    assert call.ended_reason == "Sky_Fell"
    assert call.model_extra == {"surprise": {"nested": [1, 2]}}
    assert call.created_at == datetime(2026, 11, 26, 21, 53, 30)
    assert call.direction is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-26T21:53:30Z", datetime(2026, 11, 26, 21, 53, 30, tzinfo=timezone.utc)),
        ("2026-11-26 21:53:30+01:00", datetime(2026, 11, 26, 20, 53, 30, tzinfo=timezone.utc)),
        ("last tuesday", None),
        (None, None),
    ],
)
def test_created_at_is_lenient_and_keeps_the_raw_text(
    raw: str | None, expected: datetime | None
) -> None:
    call = casey.Call.model_validate({"id": "x", "created_at": raw})
    assert call.created_at == expected
    assert call.created_at_raw == raw


def test_status_normalisation() -> None:
    assert casey.normalize_status(" No-Answer ") == "no_answer"
    assert casey.normalize_status("IN PROGRESS") == "in_progress"
    assert casey.Call(id="x", status="Cancelled").is_terminal()
    assert not casey.Call(id="x", status="in-progress").is_terminal()


def test_key_and_numbers_never_leak(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.app.queue(
        Reply(503, {"error": {"code": "x", "message": f"key {KEY} cannot call {PHONE}"}}),
        Reply(400, {"error": {"code": "bad", "message": f"echo {KEY} and {PHONE}"}}),
    )
    client = client_for(server, retry_policy=RetryPolicy(max_retries=0))
    seen: list[str] = [repr(client), str(client), client._http.headers.get("user-agent", "")]
    for _ in range(2):
        with pytest.raises(errors.CaseyError) as caught:
            client.get_call("demo-outbound", "abc")
        seen += [str(caught.value), repr(caught.value), caught.value.message]
    request = casey.CallRequest.build(phone_number=PHONE)
    seen += [repr(request), str(request), repr(casey.Call.model_validate(CALL))]
    seen += [record.getMessage() for record in caplog.records]
    text = "\n".join(seen)
    assert KEY not in text
    assert PHONE not in text and PHONE[1:] not in text
    assert "[redacted]" in text and "+1•••••0123" in text
    assert "authorization" not in {k.lower() for k in client._http.headers}
    client.close()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.tellcasey.com/v1/backend", True),
        ("http://127.0.0.1:8765/v1/backend", True),
        ("http://127.9.9.9/v1/backend", True),
        ("http://localhost:8765/v1/backend", True),
        ("http://[::1]:8765/v1/backend", True),
        ("http://api.tellcasey.com/v1/backend", False),
        ("http://10.0.0.5/v1/backend", False),
        ("ftp://127.0.0.1/v1/backend", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        casey.CaseyClient(KEY, base_url=url).close()
    else:
        with pytest.raises(ValueError, match="not allowed"):
            casey.CaseyClient(KEY, base_url=url)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="api_key is empty"):
        casey.CaseyClient("  ")


def test_async_client_same_rules(server: RunningServer) -> None:
    pages = [[{**CALL, "id": f"c{i}"} for i in range(n)] for n in (3, 1)]
    server.app.queue(
        Reply(200, {"data": CALL}),
        *(Reply(200, {"data": page}) for page in pages),
        Reply(500, text="lost"),
    )

    async def scenario() -> tuple[str, list[str]]:
        async with casey.AsyncCaseyClient(
            KEY, base_url=server.base_url, retry_policy=FAST
        ) as client:
            created = await client.create_call("demo-outbound", PHONE, idempotency_key="k")
            ids = [c.id async for c in client.iter_calls("demo-outbound", page_size=3)]
            with pytest.raises(errors.AmbiguousDispatchError):
                await client.create_call("demo-outbound", PHONE, idempotency_key="k2")
            return created.id, ids

    created_id, ids = asyncio.run(scenario())
    assert created_id == CALL["id"]
    assert ids == ["c0", "c1", "c2", "c0"]
    assert [r.method for r in server.app.requests] == ["POST", "GET", "GET", "POST"]
    assert server.app.requests[0].headers["idempotency-key"] == "k"


def test_success_of_the_wrong_shape_is_a_typed_error(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": [PHONE]}), Reply(200, {"nodata": True}))
    with client_for(server) as client:
        with pytest.raises(errors.APIStatusError, match="unexpected response shape") as first:
            client.get_call("demo-outbound", "abc")
        with pytest.raises(errors.APIStatusError, match="expected a JSON envelope"):
            client.get_call("demo-outbound", "abc")
    assert PHONE not in str(first.value)
