"""Conversation endpoints of the client, over real HTTP against the scripted peer.

Nothing here needs the sandbox to know conversations: every answer is scripted, including the
shapes Casey does not document (fields, transcripts).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

import casey_flows
from casey_flows import client as casey
from casey_flows.client import errors
from casey_flows.client.retry import RetryPolicy
from tests.scripted_server import Reply, RunningServer, scripted_server

KEY = "sk_test_CANARY_conversations_0123456789"
PHONE = "+14155550123"
CONV_ID = "0d3f4a52-8b1e-4c1f-9a57-2f6c1e9b7a10"
CONVERSATION = {
    "id": CONV_ID,
    "connection_code": "demo-outbound",
    "agent_id": "agent_1",
    "status": "completed",
    "started_at": "2026-11-26T21:53:30Z",
    "completed_at": "2026-11-26T21:58:02.500000+00:00",
    "turn_count": 12,
    "participant_profile": {"name": "Ada", "phone_number": PHONE},
}
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_cap=0.05)
METHODS = (
    "get_conversation",
    "list_conversations",
    "iter_conversations",
    "get_conversation_fields",
    "get_conversation_transcript",
)


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with scripted_server() as running:
        yield running


def client_for(server: RunningServer, **kwargs: Any) -> casey.CaseyClient:
    kwargs.setdefault("retry_policy", FAST)
    return casey.CaseyClient(KEY, base_url=server.base_url, **kwargs)


def async_client_for(server: RunningServer) -> casey.AsyncCaseyClient:
    return casey.AsyncCaseyClient(KEY, base_url=server.base_url, retry_policy=FAST)


def page(ids: list[str], next_cursor: str | None, *, has_more: bool | None = None) -> Reply:
    return Reply(
        200,
        {
            "data": [{**CONVERSATION, "id": i} for i in ids],
            "pagination": {
                "has_more": next_cursor is not None if has_more is None else has_more,
                "next_cursor": next_cursor,
                "prev_cursor": None,
            },
        },
    )


# -- wire format ---------------------------------------------------------------------------------


def test_get_conversation_wire_format_and_parsing(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": CONVERSATION}))
    with client_for(server) as client:
        conversation = client.get_conversation("conv/1 x")
    [request] = server.app.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/v1/backend/conversations/conv%2F1%20x",
        "",
    )
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == f"casey-flows/{casey.__version__}"
    assert request.body == b""
    assert conversation.id == CONV_ID
    assert (conversation.connection_code, conversation.agent_id) == ("demo-outbound", "agent_1")
    assert conversation.started_at == datetime(2026, 11, 26, 21, 53, 30, tzinfo=timezone.utc)
    assert conversation.started_at_raw == "2026-11-26T21:53:30Z"
    assert conversation.completed_at == datetime(
        2026, 11, 26, 21, 58, 2, 500000, tzinfo=timezone.utc
    )
    assert conversation.completed_at_raw == CONVERSATION["completed_at"]
    assert conversation.turn_count == 12
    assert conversation.participant_profile == {"name": "Ada", "phone_number": PHONE}
    assert conversation.is_final and conversation.normalized_status == "completed"


def test_list_conversations_query_and_page(server: RunningServer) -> None:
    server.app.queue(
        Reply(
            200,
            {
                "data": [CONVERSATION],
                "pagination": {"has_more": True, "next_cursor": "n1", "prev_cursor": "p1"},
            },
        ),
        Reply(200, {"data": []}),
    )
    with client_for(server) as client:
        first = client.list_conversations(limit=5, after="a b", before="b/c", status="in_progress")
        bare = client.list_conversations()
    assert [(r.method, r.path) for r in server.app.requests] == [
        ("GET", "/v1/backend/conversations")
    ] * 2
    assert server.app.requests[0].query == "limit=5&after=a+b&before=b%2Fc&status=in_progress"
    assert server.app.requests[1].query == "limit=20"
    assert [c.id for c in first.items] == [CONV_ID]
    assert (first.has_more, first.next_cursor, first.prev_cursor) == (True, "n1", "p1")
    # No pagination object: one page, nothing more to read.
    assert (bare.items, bare.has_more, bare.next_cursor) == ([], False, None)


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_checked_before_sending(server: RunningServer, limit: int) -> None:
    with client_for(server) as client:
        with pytest.raises(errors.InvalidRequestError) as caught:
            client.list_conversations(limit=limit)
        with pytest.raises(errors.InvalidRequestError):
            next(client.iter_conversations(page_size=limit))
    assert caught.value.field == "limit"
    assert server.app.requests == []


@pytest.mark.parametrize("bad_id", ["", ".", ".."])
def test_ids_that_would_address_another_resource_are_refused(
    server: RunningServer, bad_id: str
) -> None:
    with client_for(server) as client:
        for call in (
            client.get_conversation,
            client.get_conversation_fields,
            client.get_conversation_transcript,
        ):
            with pytest.raises(errors.InvalidRequestError) as caught:
                call(bad_id)
            assert caught.value.field == "conversation_id"
    assert server.app.requests == []


# -- paging --------------------------------------------------------------------------------------


def test_iter_conversations_follows_the_cursor(server: RunningServer) -> None:
    server.app.queue(page(["c0", "c1"], "cur1"), page(["c2", "c3"], "cur2"), page(["c4"], None))
    with client_for(server) as client:
        ids = [c.id for c in client.iter_conversations(status="completed", page_size=2)]
    assert ids == ["c0", "c1", "c2", "c3", "c4"]
    assert [r.query for r in server.app.requests] == [
        "limit=2&status=completed",
        "limit=2&after=cur1&status=completed",
        "limit=2&after=cur2&status=completed",
    ]


def test_iter_conversations_reads_pages_lazily(server: RunningServer) -> None:
    server.app.queue(page(["c0", "c1"], "cur1"), page(["c2"], None))
    with client_for(server) as client:
        first = next(client.iter_conversations(page_size=2))
    assert first.id == "c0"
    assert len(server.app.requests) == 1


def test_async_iter_conversations_follows_the_cursor(server: RunningServer) -> None:
    server.app.queue(page(["c0", "c1"], "cur1"), page(["c2", "c3"], "cur2"), page(["c4"], None))

    async def scenario() -> list[str]:
        async with async_client_for(server) as client:
            return [c.id async for c in client.iter_conversations(page_size=2)]

    assert asyncio.run(scenario()) == ["c0", "c1", "c2", "c3", "c4"]
    assert [r.query for r in server.app.requests] == [
        "limit=2",
        "limit=2&after=cur1",
        "limit=2&after=cur2",
    ]


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        (page(["c1"], None, has_more=True), "no next_cursor"),
        (page(["c1"], "cur1"), "already followed"),
    ],
    ids=["has-more-without-cursor", "cursor-repeats"],
)
def test_a_cursor_that_cannot_advance_fails_instead_of_stopping_or_looping(
    server: RunningServer, second: Reply, problem: str
) -> None:
    server.app.queue(page(["c0"], "cur1"), second)
    server.app.default = page(["again"], "cur1")
    seen: list[str] = []
    with client_for(server) as client, pytest.raises(errors.APIStatusError, match=problem):
        seen.extend(c.id for c in client.iter_conversations())
    assert seen == ["c0", "c1"]
    assert len(server.app.requests) == 2


def test_pagination_flags_are_read_leniently(server: RunningServer) -> None:
    server.app.queue(
        Reply(200, {"data": [], "pagination": {"has_more": "true", "next_cursor": 7}}),
        Reply(200, {"data": [], "pagination": "odd"}),
    )
    with client_for(server) as client:
        text_flag = client.list_conversations()
        odd = client.list_conversations()
    assert (text_flag.has_more, text_flag.next_cursor) == (True, "7")
    assert (odd.has_more, odd.next_cursor) == (False, None)


# -- fields --------------------------------------------------------------------------------------


def test_fields_documented_guess_and_active_only(server: RunningServer) -> None:
    items = [
        {"field_id": "email", "value": "ada@example.com", "updated_at": "2026-11-26T22:00:00Z"},
        {"field_id": "consent", "value": True},
        {"field_id": "notes"},
    ]
    server.app.queue(Reply(200, {"data": items}), Reply(200, {"data": []}))
    with client_for(server) as client:
        fields = client.get_conversation_fields("conv 1")
        inactive = client.get_conversation_fields("conv 1", active_only=False)
    active, every = server.app.requests
    assert (active.path, active.query) == (
        "/v1/backend/conversations/conv%201/fields",
        "active_only=true",
    )
    assert (every.path, every.query) == (active.path, "active_only=false")
    assert [(f.field_id, f.value) for f in fields] == [
        ("email", "ada@example.com"),
        ("consent", True),
        ("notes", None),
    ]
    assert fields[0].model_extra == {"updated_at": "2026-11-26T22:00:00Z"}
    assert inactive == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"email": "ada@example.com", "age": 36, "tags": ["a", "b"]},
            [("email", "ada@example.com"), ("age", 36), ("tags", ["a", "b"])],
            id="flat-object",
        ),
        pytest.param(
            {"email": {"value": "ada@example.com", "updated_at": "t1"}, "address": {"city": "X"}},
            [("email", "ada@example.com"), ("address", {"city": "X"})],
            id="object-of-items",
        ),
        pytest.param(
            [
                {"id": "f1", "value": 1},
                {"name": "f2", "value": 2},
                {"key": "f3", "value": 3},
                {"field_id": None, "id": 4, "value": 4},
            ],
            [("f1", 1), ("f2", 2), ("f3", 3), ("4", 4)],
            id="id-name-key-aliases",
        ),
        pytest.param(None, [], id="null"),
        pytest.param({}, [], id="empty-object"),
    ],
)
def test_fields_alternative_shapes(server: RunningServer, data: Any, expected: list) -> None:
    server.app.queue(Reply(200, {"data": data}))
    with client_for(server) as client:
        fields = client.get_conversation_fields(CONV_ID)
    assert [(f.field_id, f.value) for f in fields] == expected


def test_field_aliases_keep_the_original_keys() -> None:
    by_name = casey.ConversationField.model_validate({"name": "email", "value": "x", "src": "crm"})
    assert by_name.field_id == "email"
    assert by_name.model_extra == {"name": "email", "src": "crm"}
    keyed = casey.ConversationField.model_validate({"field_id": "a", "id": "b"})
    assert keyed.field_id == "a" and keyed.model_extra == {"id": "b"}


def test_fields_skip_unusable_items_and_fail_when_none_is_usable(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="casey_flows.client.conversations")
    server.app.queue(
        Reply(200, {"data": [{"field_id": "ok", "value": PHONE}, {"value": PHONE}, "stray"]}),
        Reply(200, {"data": [{"value": PHONE}, 3]}),
        Reply(200, {"data": "a string"}),
    )
    with client_for(server) as client:
        [field] = client.get_conversation_fields(CONV_ID)
        with pytest.raises(errors.APIStatusError, match="unexpected response shape") as none:
            client.get_conversation_fields(CONV_ID)
        with pytest.raises(errors.APIStatusError, match="expected a list or an object"):
            client.get_conversation_fields(CONV_ID)
    assert field.field_id == "ok"
    assert "skipped 2 of 3" in caplog.text
    assert PHONE not in caplog.text and PHONE not in str(none.value)


# -- transcripts ---------------------------------------------------------------------------------

MESSAGES = [
    {"speaker": "agent", "text": "Hello, this is Casey.", "timestamp": "2026-11-26T21:53:31Z"},
    {"speaker": "user", "text": "Hi!", "timestamp": "2026-11-26T21:53:33Z", "confidence": 0.9},
]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(MESSAGES, id="list-of-messages"),
        pytest.param({"messages": MESSAGES, "id": "t1"}, id="object-with-messages"),
        pytest.param(
            [{"id": "t1", "messages": MESSAGES[:1]}, {"id": "t2", "messages": MESSAGES[1:]}],
            id="list-of-transcripts",
        ),
    ],
)
def test_transcript_shapes(server: RunningServer, data: Any) -> None:
    server.app.queue(Reply(200, {"data": data}))
    with client_for(server) as client:
        messages = client.get_conversation_transcript("conv/1")
    [request] = server.app.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/v1/backend/conversations/conv%2F1/transcripts",
        "",
    )
    assert [(m.speaker, m.text) for m in messages] == [
        ("agent", "Hello, this is Casey."),
        ("user", "Hi!"),
    ]
    assert messages[0].timestamp == datetime(2026, 11, 26, 21, 53, 31, tzinfo=timezone.utc)
    assert messages[0].timestamp_raw == "2026-11-26T21:53:31Z"
    assert messages[1].model_extra == {"confidence": 0.9}


def test_transcript_aliases_keep_the_original_keys(server: RunningServer) -> None:
    data = [
        {"role": "assistant", "content": "Hello", "timestamp": 1.5},
        {"role": "user", "message": "Hi", "timestamp": "yesterday-ish"},
        {"speaker": "agent", "role": "assistant", "content": [{"type": "text", "text": "Bye"}]},
    ]
    server.app.queue(Reply(200, {"data": data}))
    with client_for(server) as client:
        first, second, third = client.get_conversation_transcript(CONV_ID)
    assert (first.speaker, first.text) == ("assistant", "Hello")
    assert first.model_extra == {"role": "assistant", "content": "Hello"}
    assert (first.timestamp, first.timestamp_raw) == (None, "1.5")
    assert (second.speaker, second.text, second.timestamp_raw) == ("user", "Hi", "yesterday-ish")
    assert second.model_extra == {"role": "user", "message": "Hi"}
    # The canonical key wins over an alias; a non-string value is kept as its JSON text.
    assert third.speaker == "agent"
    assert third.text == '[{"type": "text", "text": "Bye"}]'
    assert third.model_extra == {"role": "assistant", "content": [{"type": "text", "text": "Bye"}]}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([{"id": "t1", "entries": []}, {"foo": 1}], "none of 2"),
        ({"transcript": []}, "object with 'messages'"),
        (42, "expected a list"),
    ],
)
def test_transcript_with_nothing_usable_is_a_typed_error(
    server: RunningServer, data: Any, match: str
) -> None:
    server.app.queue(Reply(200, {"data": data}))
    with client_for(server) as client, pytest.raises(errors.APIStatusError, match=match):
        client.get_conversation_transcript(CONV_ID)


def test_transcript_empty_answers(server: RunningServer) -> None:
    server.app.queue(
        Reply(200, {"data": []}),
        Reply(200, {"data": None}),
        Reply(200, {"data": [{"messages": []}]}),
    )
    with client_for(server) as client:
        assert [client.get_conversation_transcript(CONV_ID) for _ in range(3)] == [[], [], []]


# -- leniency ------------------------------------------------------------------------------------


def test_unknown_status_and_extra_fields_are_kept(server: RunningServer) -> None:
    odd = {
        **CONVERSATION,
        "status": "Escalated-To-Human",
        "started_at": "last tuesday",
        "completed_at": None,
        "turn_count": "many",
        "surprise": {"nested": [1, 2]},
    }
    del odd["agent_id"]
    server.app.queue(Reply(200, {"data": odd, "extra_top_level": True}))
    with client_for(server) as client:
        conversation = client.get_conversation(CONV_ID)
    assert conversation.status == "Escalated-To-Human"
    assert conversation.normalized_status == "escalated_to_human"
    assert not conversation.is_final
    assert (conversation.started_at, conversation.started_at_raw) == (None, "last tuesday")
    assert (conversation.completed_at, conversation.completed_at_raw) == (None, None)
    assert conversation.turn_count is None and conversation.agent_id is None
    assert conversation.model_extra == {"surprise": {"nested": [1, 2]}}


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("pending", False),
        ("in_progress", False),
        ("In-Progress", False),
        ("completed", True),
        ("Abandoned", True),
        ("ARCHIVED", True),
        (None, False),
    ],
)
def test_is_final(status: str | None, final: bool) -> None:
    conversation = casey.Conversation.model_validate({"id": "c", "status": status})
    assert conversation.is_final is final
    assert {"completed", "abandoned", "archived"} == casey.FINAL_CONVERSATION_STATUSES


UTC_DAY = datetime(2026, 1, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "parsed", "raw"),
    [
        ("2026-01-02T00:00:00Z", UTC_DAY, "2026-01-02T00:00:00Z"),
        (1764194010, None, "1764194010"),
        ({"seconds": 1}, None, '{"seconds": 1}'),
        (UTC_DAY, UTC_DAY, "2026-01-02T00:00:00+00:00"),
    ],
    ids=["iso", "number", "object", "python-datetime"],
)
def test_one_raw_timestamp_mechanism_for_calls_and_conversations(
    value: Any, parsed: datetime | None, raw: str
) -> None:
    call = casey.Call.model_validate({"id": "x", "created_at": value})
    conversation = casey.Conversation.model_validate({"id": "c", "completed_at": value})
    message = casey.TranscriptMessage.model_validate({"text": "t", "timestamp": value})
    assert (call.created_at, call.created_at_raw) == (parsed, raw)
    assert (conversation.completed_at, conversation.completed_at_raw) == (parsed, raw)
    assert (message.timestamp, message.timestamp_raw) == (parsed, raw)


def test_a_model_naming_a_timestamp_it_does_not_declare_is_refused() -> None:
    from casey_flows.client.models import KeepsRawInstants

    with pytest.raises(TypeError, match="seen_at_raw"):

        class Broken(KeepsRawInstants):
            raw_instants = ("seen_at",)
            seen_at: datetime | None = None


def test_a_conversation_reads_back_from_its_own_dump() -> None:
    conversation = casey.Conversation.model_validate({**CONVERSATION, "surprise": 1})
    assert casey.Conversation.model_validate(conversation.model_dump()) == conversation
    message = casey.TranscriptMessage.model_validate({"role": "user", "content": "x"})
    assert casey.TranscriptMessage.model_validate(message.model_dump()) == message


def test_a_page_of_the_wrong_shape_is_a_typed_error(server: RunningServer) -> None:
    server.app.queue(Reply(200, {"data": {"id": CONV_ID}}), Reply(200, {"data": [{"no": "id"}]}))
    with client_for(server) as client:
        with pytest.raises(errors.APIStatusError, match="expected a list in 'data'"):
            client.list_conversations()
        with pytest.raises(errors.APIStatusError, match=r"items\.0\.id"):
            client.list_conversations()


# -- errors and retries --------------------------------------------------------------------------


def _call(client: casey.CaseyClient, method: str) -> object:
    if method == "list_conversations":
        return client.list_conversations()
    if method == "iter_conversations":
        return list(client.iter_conversations())
    return getattr(client, method)(CONV_ID)


SUCCESS = {
    "get_conversation": Reply(200, {"data": CONVERSATION}),
    "list_conversations": Reply(200, {"data": [CONVERSATION]}),
    "iter_conversations": Reply(200, {"data": [CONVERSATION]}),
    "get_conversation_fields": Reply(200, {"data": [{"field_id": "a", "value": 1}]}),
    "get_conversation_transcript": Reply(200, {"data": MESSAGES}),
}


@pytest.mark.parametrize("method", ["get_conversation", *METHODS[3:]])
def test_unknown_conversation_is_not_found(server: RunningServer, method: str) -> None:
    server.app.queue(Reply(404, {"error": {"code": "not_found", "message": "no conversation"}}))
    with client_for(server) as client, pytest.raises(errors.NotFoundError) as caught:
        _call(client, method)
    assert caught.value.code == "not_found"
    assert len(server.app.requests) == 1  # a 404 is an answer, not retried


@pytest.mark.parametrize("method", METHODS)
def test_a_5xx_then_success_is_retried(server: RunningServer, method: str) -> None:
    server.app.queue(
        Reply(503, {"error": {"code": "unavailable", "message": "busy"}}),
        Reply(502, text="bad gateway"),
        SUCCESS[method],
    )
    with client_for(server) as client:
        result = _call(client, method)
    assert result
    assert len(server.app.requests) == 3
    assert len({(r.path, r.query) for r in server.app.requests}) == 1


def test_a_5xx_on_every_attempt_gives_up_with_server_error(server: RunningServer) -> None:
    server.app.default = Reply(500, {"error": {"code": "boom", "message": "down"}})
    with client_for(server) as client, pytest.raises(errors.ServerError):
        client.get_conversation_transcript(CONV_ID)
    assert len(server.app.requests) == 1 + FAST.max_retries


def test_async_client_same_rules(server: RunningServer) -> None:
    server.app.queue(
        Reply(503, {"error": {"code": "unavailable", "message": "busy"}}),
        Reply(200, {"data": CONVERSATION}),
        Reply(200, {"data": [CONVERSATION], "pagination": {"has_more": False}}),
        Reply(200, {"data": {"email": "ada@example.com"}}),
        Reply(200, {"data": {"messages": MESSAGES}}),
        Reply(404, {"error": {"code": "not_found", "message": "gone"}}),
    )

    async def scenario() -> tuple[Any, ...]:
        async with async_client_for(server) as client:
            conversation = await client.get_conversation(CONV_ID)
            listed = await client.list_conversations(limit=1, status="completed")
            fields = await client.get_conversation_fields(CONV_ID, active_only=False)
            messages = await client.get_conversation_transcript(CONV_ID)
            with pytest.raises(errors.NotFoundError):
                await client.get_conversation("missing")
            return conversation, listed, fields, messages

    conversation, listed, fields, messages = asyncio.run(scenario())
    assert conversation.id == CONV_ID and [c.id for c in listed.items] == [CONV_ID]
    assert [(f.field_id, f.value) for f in fields] == [("email", "ada@example.com")]
    assert [m.speaker for m in messages] == ["agent", "user"]
    assert [(r.path, r.query) for r in server.app.requests] == [
        (f"/v1/backend/conversations/{CONV_ID}", ""),
        (f"/v1/backend/conversations/{CONV_ID}", ""),
        ("/v1/backend/conversations", "limit=1&status=completed"),
        (f"/v1/backend/conversations/{CONV_ID}/fields", "active_only=false"),
        (f"/v1/backend/conversations/{CONV_ID}/transcripts", ""),
        ("/v1/backend/conversations/missing", ""),
    ]
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.app.requests)


def test_both_clients_offer_the_same_methods() -> None:
    for name in METHODS:
        sync, other = getattr(casey.CaseyClient, name), getattr(casey.AsyncCaseyClient, name)
        assert inspect.signature(sync).parameters == inspect.signature(other).parameters, name


# -- reprs and exports ---------------------------------------------------------------------------


def test_reprs_never_show_a_phone_number_or_transcript_text() -> None:
    conversation = casey.Conversation.model_validate(
        {
            **CONVERSATION,
            "participant_profile": {"phone": "+1 (415) 555-0123", "alt": 14155550123},
            "caller_number": PHONE,
        }
    )
    field = casey.ConversationField.model_validate({"name": "phone", "value": PHONE})
    secret = "my card is 4111 1111 1111 1111, call me at +14155550123"
    message = casey.TranscriptMessage.model_validate(
        {"role": "user", "content": secret, "words": [{"w": "card"}]}
    )
    page = casey.ConversationPage(items=[conversation], has_more=False)
    shown = "\n".join(
        text for model in (conversation, field, message, page) for text in (repr(model), str(model))
    )
    for digits in (PHONE, PHONE[1:], "555-0123", "4111 1111"):
        assert digits not in shown
    assert "call me" not in shown and "card" not in shown
    assert "+1•••••0123" in shown
    size = f"<{len(secret)} chars>"
    assert f"text={size}" in repr(message) and f"content={size}" in repr(message)
    assert "words=<list of 1>" in repr(message) and "speaker='user'" in repr(message)
    assert f"id='{CONV_ID}'" in repr(conversation) and "status='completed'" in repr(conversation)


def test_exported_from_the_client_and_the_root() -> None:
    names = [
        "Conversation",
        "ConversationField",
        "ConversationPage",
        "TranscriptMessage",
        "FINAL_CONVERSATION_STATUSES",
    ]
    for name in names:
        assert name in casey.__all__ and name in casey_flows.__all__
        assert getattr(casey_flows, name) is getattr(casey, name)
