"""Conversations (#13): started with the answered call, ended in the same transition, with
seeded answers, a transcript, magic numbers, admin switches, cursor pages and persistence."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox
from casey_flows.sandbox.testing import wait_for, wait_for_terminal
from casey_flows.sandbox.wire import Conversation, ConversationField, TranscriptMessage

COMPLETES = "+14155550100"  # completed / customer_ended_call
VOICEMAIL = "+14155550555"  # completed / voicemail: connects, conversation abandoned
BUSY = "+14155550486"  # never connects
LONG = "+14155550999"  # in_progress for 1.2 s at speed 1000
OPT_OUT = "+14159901234"
CONFIRMS = "+14159911234"
DECLINES = "+14159921234"
FIELD_IDS = ["appointment_confirmed", "opt_out", "preferred_time"]


def _create(client: httpx.Client, sb: EmbeddedSandbox, phone: str, **body: Any) -> str:
    resp = client.post(sb.calls_path(), json={"phone_number": phone, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]["id"]


def _ended(client: httpx.Client, sb: EmbeddedSandbox, phone: str, **body: Any) -> dict:
    return wait_for_terminal(client, sb.calls_path(), _create(client, sb, phone, **body))


def _conversation(client: httpx.Client, conversation_id: str, part: str = "") -> Any:
    resp = client.get(f"/conversations/{conversation_id}{part}")
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def _fields(client: httpx.Client, conversation_id: str, active_only: str | None = None) -> dict:
    params = {} if active_only is None else {"active_only": active_only}
    resp = client.get(f"/conversations/{conversation_id}/fields", params=params)
    assert resp.status_code == 200, resp.text
    return {row["field_id"]: row for row in resp.json()["data"]}


def _answered(client: httpx.Client, sb: EmbeddedSandbox, call_id: str) -> dict:
    """The call once it has a conversation (it was answered)."""

    def call() -> dict | None:
        data = client.get(f"{sb.calls_path()}/{call_id}").json()["data"]
        return data if data["conversation_id"] else None

    return wait_for(call)


def _answers(client: httpx.Client, conversation_id: str) -> dict[str, Any]:
    return {f: row["value"] for f, row in _fields(client, conversation_id).items()}


def test_in_progress_call_has_an_in_progress_conversation(client, sb):
    call_id = _create(client, sb, LONG, name="Ada")
    assert client.get(f"{sb.calls_path()}/{call_id}").json()["data"]["conversation_id"] is None
    call = _answered(client, sb, call_id)
    assert call["status"] == "in_progress"
    conversation = _conversation(client, call["conversation_id"])
    assert set(conversation) == set(Conversation.model_fields)
    assert conversation["id"] == call["conversation_id"]
    assert conversation["status"] == "in_progress"
    assert conversation["completed_at"] is None and conversation["turn_count"] == 0
    assert conversation["connection_code"] == sb.call_out_connection
    assert conversation["agent_id"] == "agent_sandbox"
    assert conversation["participant_profile"] == {"name": "Ada"}
    assert conversation["started_at"].endswith("+00:00")
    assert conversation["started_at"] >= call["created_at"]
    assert _fields(client, call["conversation_id"]) == {}
    pending = _fields(client, call["conversation_id"], "false")
    assert list(pending) == FIELD_IDS
    assert {row["value"] for row in pending.values()} == {None}
    assert _conversation(client, call["conversation_id"], "/transcripts") == []
    # forcing an end keeps the two consistent
    sb.admin.force_outcome(call_id, "completed")
    done = _conversation(client, call["conversation_id"])
    assert done["status"] == "completed" and done["turn_count"] >= 3


def test_a_terminal_call_always_shows_a_final_conversation(client, sb):
    """Read the call, then its conversation, as fast as possible: never terminal + live."""
    call_ids = [_create(client, sb, phone) for phone in (COMPLETES, VOICEMAIL, COMPLETES)]
    seen: dict[str, str] = {}

    def all_final() -> bool:
        for call_id in call_ids:
            call = client.get(f"{sb.calls_path()}/{call_id}").json()["data"]
            if call["conversation_id"] is None:
                continue
            status = _conversation(client, call["conversation_id"])["status"]
            if call["status"] in v.TERMINAL_STATUSES:
                assert status in ("completed", "abandoned"), (call["status"], status)
            seen[call_id] = status
        return len(seen) == 3 and "in_progress" not in seen.values()

    wait_for(all_final, interval=0.001)
    assert [seen[i] for i in call_ids] == ["completed", "abandoned", "completed"]


def test_calls_that_never_connect_have_no_conversation(client, sb):
    call = _ended(client, sb, BUSY)
    assert call["conversation_id"] is None
    assert client.get("/conversations").json()["data"] == []


def test_fields_and_transcript_are_written_at_the_end(client, sb):
    call = _ended(client, sb, COMPLETES, name="Grace")
    conversation = _conversation(client, call["conversation_id"])
    assert conversation["status"] == "completed"
    assert conversation["started_at"] < conversation["completed_at"] <= call["updated_at"]
    rows = client.get(f"/conversations/{call['conversation_id']}/fields").json()["data"]
    assert [r["field_id"] for r in rows] == FIELD_IDS
    for row in rows:
        ConversationField.model_validate(row)
        assert row["updated_at"] == conversation["completed_at"]
    answers = {r["field_id"]: r["value"] for r in rows}
    assert answers["appointment_confirmed"] in ("yes", "no")
    assert answers["preferred_time"] in ("morning", "afternoon", "evening")
    assert answers["opt_out"] in (True, False)

    transcript = _conversation(client, call["conversation_id"], "/transcripts")
    assert 3 <= len(transcript) <= 6
    assert conversation["turn_count"] == len(transcript)
    for message in transcript:
        TranscriptMessage.model_validate(message)
        assert set(message) == {"speaker", "text", "timestamp"}
        assert conversation["started_at"] <= message["timestamp"] <= conversation["completed_at"]
    assert [m["timestamp"] for m in transcript] == sorted(m["timestamp"] for m in transcript)
    assert transcript[0]["speaker"] == "agent" and "Grace" in transcript[0]["text"]
    assert "appointment" in transcript[0]["text"]
    assert {m["speaker"] for m in transcript} == {"agent", "participant"}
    # the participant says what the fields hold
    assert answers["preferred_time"] in transcript[3]["text"].lower()
    assert transcript[3]["speaker"] == "participant"


def test_participant_profile_comes_from_context_then_name(client, sb):
    profile = {"name": "Lin", "external_id": "p-1"}
    cases = [
        ({"name": "Ignored", "context": {"participant_profile": profile}}, profile),
        ({"name": "Ada", "context": {"participant_profile": "not an object"}}, {"name": "Ada"}),
        ({}, None),
    ]
    for body, expected in cases:
        call = _ended(client, sb, COMPLETES, **body)
        assert _conversation(client, call["conversation_id"])["participant_profile"] == expected


def test_active_only_semantics(client, sb):
    voicemail = _ended(client, sb, VOICEMAIL)["conversation_id"]
    assert _conversation(client, voicemail)["status"] == "abandoned"
    assert _fields(client, voicemail) == {}
    assert _fields(client, voicemail, "true") == {}
    every = _fields(client, voicemail, "false")
    assert list(every) == FIELD_IDS
    assert {row["value"] for row in every.values()} == {None}
    assert len(_conversation(client, voicemail, "/transcripts")) == 3

    completed = _ended(client, sb, COMPLETES)["conversation_id"]
    assert list(_fields(client, completed, "TRUE")) == FIELD_IDS
    assert _fields(client, completed, "false") == _fields(client, completed)
    resp = client.get(f"/conversations/{completed}/fields", params={"active_only": "maybe"})
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "active_only"


def _seeded_answers(seed: int) -> list[tuple]:
    """Twelve creates on a fresh sandbox: each call's outcome and its conversation's answers."""
    with running_sandbox(seed=seed, speed=1000, rate_limit_per_s=0, concurrency_cap=0) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        ids = [_create(c, s, f"+1312555{1000 + i}") for i in range(12)]
        out = []
        for call_id in ids:
            call = wait_for_terminal(c, s.calls_path(), call_id)
            conversation_id = call["conversation_id"]
            if conversation_id is None:
                out.append((call["status"], None, None, None))
                continue
            texts = [m["text"] for m in _conversation(c, conversation_id, "/transcripts")]
            status = _conversation(c, conversation_id)["status"]
            out.append((call["status"], status, _answers(c, conversation_id), texts))
        return out


def test_answers_repeat_with_the_seed():
    first = _seeded_answers(seed=11)
    assert sum(1 for row in first if row[1] == "completed") >= 3  # something to compare
    assert _seeded_answers(seed=11) == first
    other = _seeded_answers(seed=12)
    assert [row[2] for row in other] != [row[2] for row in first]


def test_magic_answers_are_the_documented_ones():
    assert v.MAGIC_ANSWERS == {
        "990": ("opt_out", True),
        "991": ("appointment_confirmed", "yes"),
        "992": ("appointment_confirmed", "no"),
    }


def test_magic_numbers_force_answers_and_connect():
    # every unmarked call would be busy: the answer-forcing numbers still complete
    with running_sandbox(
        speed=1000, rate_limit_per_s=0, concurrency_cap=0, outcome_weights={"busy": 1.0}
    ) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        for phone, field_id, value in [
            (OPT_OUT, "opt_out", True),
            (CONFIRMS, "appointment_confirmed", "yes"),
            (DECLINES, "appointment_confirmed", "no"),
        ]:
            for attempt in range(2):  # whatever the seeded draw
                call = _ended(c, s, phone)
                assert (call["status"], call["ended_reason"]) == (
                    "completed",
                    "customer_ended_call",
                )
                assert _conversation(c, call["conversation_id"])["status"] == "completed"
                assert _answers(c, call["conversation_id"])[field_id] == value, attempt
        transcript = _conversation(c, _ended(c, s, OPT_OUT)["conversation_id"], "/transcripts")
        assert transcript[-1]["speaker"] == "participant"
        assert "stop calling" in transcript[-1]["text"] or "off your list" in transcript[-1]["text"]
        # the last four digits still win: a forced answer on a busy number gets no conversation
        assert _ended(c, s, "+14159900486")["conversation_id"] is None
        voicemail = _ended(c, s, "+14159900555")
        assert _conversation(c, voicemail["conversation_id"])["status"] == "abandoned"


def test_added_definition_applies_to_conversations_ending_after_it(client, sb):
    live_id = _create(client, sb, LONG)
    before = _ended(client, sb, COMPLETES)["conversation_id"]
    _answered(client, sb, live_id)
    definitions = sb.admin.add_field_definition(sb.call_out_connection, "callback_day", ["monday"])
    assert [d["field_id"] for d in definitions] == [
        "appointment_confirmed",
        "callback_day",
        *FIELD_IDS[1:],
    ]
    added = next(d for d in definitions if d["field_id"] == "callback_day")
    assert added["values"] == ["monday"]

    live = sb.admin.force_outcome(live_id, "completed")["data"]["conversation_id"]
    assert _answers(client, live)["callback_day"] == "monday"
    transcript = _conversation(client, live, "/transcripts")
    assert any("callback day is monday" in m["text"] for m in transcript)
    assert "callback_day" not in _fields(client, before)
    assert _fields(client, before, "false")["callback_day"] == {
        "field_id": "callback_day",
        "value": None,
        "updated_at": added["created_at"],
    }
    assert "callback_day" in _answers(client, _ended(client, sb, COMPLETES)["conversation_id"])

    sb.clean()  # reset forgets added definitions
    assert list(_answers(client, _ended(client, sb, COMPLETES)["conversation_id"])) == FIELD_IDS


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/connections/nope/field-definitions", {"field_id": "x", "values": [1]}, 404),
        ("/connections/demo-outbound/field-definitions", {"field_id": "x", "values": []}, 400),
        ("/connections/demo-outbound/field-definitions", {"field_id": "x", "values": [None]}, 400),
        ("/connections/demo-outbound/field-definitions", {"field_id": "", "values": [1]}, 400),
        ("/connections/demo-outbound/field-definitions", {"values": [1]}, 400),
    ],
)
def test_bad_field_definitions_are_refused(sb, path, body, status):
    assert sb.admin._http.post(path, json=body).status_code == status


def test_forgotten_conversation_is_404_and_the_call_keeps_its_id(client, sb):
    call = _ended(client, sb, COMPLETES)
    conversation_id = call["conversation_id"]
    kept = _ended(client, sb, COMPLETES)["conversation_id"]
    sb.admin.forget_conversation(conversation_id)
    for part in ("", "/fields", "/transcripts"):
        resp = client.get(f"/conversations/{conversation_id}{part}")
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "conversation_not_found"
    again = client.get(f"{sb.calls_path()}/{call['id']}").json()["data"]
    assert again["conversation_id"] == conversation_id
    assert [c["id"] for c in client.get("/conversations").json()["data"]] == [kept]
    with pytest.raises(httpx.HTTPStatusError) as info:
        sb.admin.forget_conversation(conversation_id)
    assert info.value.response.status_code == 404
    # forgotten while live: the call still ends, and no conversation comes back
    live_id = _create(client, sb, LONG)
    live = _answered(client, sb, live_id)["conversation_id"]
    sb.admin.forget_conversation(live)
    assert sb.admin.force_outcome(live_id, "completed")["data"]["conversation_id"] == live
    assert client.get(f"/conversations/{live}").status_code == 404


def _page(client: httpx.Client, **params: Any) -> dict:
    resp = client.get("/conversations", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_cursor_pages_newest_first(client, sb):
    # forcing right after the create starts (and ends) each conversation in creation order
    ids = []
    for i in range(7):
        call_id = _create(client, sb, LONG)
        outcome = "voicemail" if i % 3 == 0 else "completed"
        ids.append(sb.admin.force_outcome(call_id, outcome)["data"]["conversation_id"])
    newest_first = ids[::-1]
    assert [c["id"] for c in _page(client)["data"]] == newest_first  # default limit 20

    pages = [_page(client, limit=3)]
    assert pages[0]["pagination"]["prev_cursor"] is None
    while pages[-1]["pagination"]["has_more"]:
        pages.append(_page(client, limit=3, after=pages[-1]["pagination"]["next_cursor"]))
    assert [[c["id"] for c in p["data"]] for p in pages] == [
        newest_first[:3],
        newest_first[3:6],
        newest_first[6:],
    ]
    assert pages[-1]["pagination"]["next_cursor"] is None
    back = _page(client, limit=3, before=pages[-1]["pagination"]["prev_cursor"])
    assert [c["id"] for c in back["data"]] == newest_first[3:6]
    assert back["pagination"]["has_more"] is True
    top = _page(client, limit=3, before=back["pagination"]["prev_cursor"])
    assert [c["id"] for c in top["data"]] == newest_first[:3]
    assert top["pagination"]["has_more"] is False and top["pagination"]["prev_cursor"] is None

    abandoned = _page(client, status="abandoned", limit=2)
    assert [c["id"] for c in abandoned["data"]] == [ids[6], ids[3]]
    rest = _page(client, status="abandoned", limit=2, after=abandoned["pagination"]["next_cursor"])
    assert [c["id"] for c in rest["data"]] == [ids[0]]
    assert rest["pagination"] == {
        "has_more": False,
        "next_cursor": None,
        "prev_cursor": rest["pagination"]["prev_cursor"],
    }
    assert rest["pagination"]["prev_cursor"] is not None
    assert _page(client, status="archived")["data"] == []

    # a cursor stays valid after its conversation is forgotten
    sb.admin.forget_conversation(newest_first[2])
    after_gone = _page(client, limit=2, after=pages[0]["pagination"]["next_cursor"])
    assert [c["id"] for c in after_gone["data"]] == newest_first[3:5]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"status": "COMPLETED"},
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"after": "garbage"},
        {"before": "Y29ubjpkZW1vLW91dGJvdW5k"},  # a connection cursor
        {"after": "x", "before": "y"},
    ],
)
def test_bad_list_params_are_400(client, sb, params):
    resp = client.get("/conversations", params=params)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "validation_error"


def test_conversations_survive_a_restart(tmp_path):
    common = {"db_path": str(tmp_path / "sandbox.db"), "rate_limit_per_s": 0, "seed": 5}
    with running_sandbox(speed=1000, **common) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        done = _ended(c, s, COMPLETES, name="Ada")["conversation_id"]
        gone = _ended(c, s, COMPLETES)["conversation_id"]
        s.admin.forget_conversation(gone)
        live_id = _create(c, s, LONG)
        live = _answered(c, s, live_id)["conversation_id"]
        saved = {part: _conversation(c, done, part) for part in ("", "/fields", "/transcripts")}
    # the live call has ~1 s of its 1.2 s left at speed 1000: ~0.35 s at speed 3000
    with running_sandbox(speed=3000, **common) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        assert _conversation(c, live)["status"] == "in_progress"
        assert {part: _conversation(c, done, part) for part in saved} == saved
        assert c.get(f"/conversations/{gone}").status_code == 404
        wait_for_terminal(c, s.calls_path(), live_id)
        assert _conversation(c, live)["status"] == "completed"
        assert _fields(c, live) and _conversation(c, live, "/transcripts")
        assert [x["id"] for x in _page(c)["data"]] == [live, done]


def test_conversation_routes_need_the_api_key(client, sb):
    conversation_id = _ended(client, sb, COMPLETES)["conversation_id"]
    for path in (
        "",
        f"/{conversation_id}",
        f"/{conversation_id}/fields",
        f"/{conversation_id}/transcripts",
    ):
        for headers in ({}, {"Authorization": "Bearer garbage-key-123"}):
            resp = httpx.get(f"{sb.base_url}/conversations{path}", headers=headers)
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "unauthorized"
