"""Create-call validation: each documented rule, masked values, unknown fields ignored."""

from __future__ import annotations

import httpx
import pytest

from casey_flows.client.phone import mask_phone

GOOD = "+14155550123"


def _create(client: httpx.Client, sb, body) -> httpx.Response:
    return client.post(sb.calls_path(), json=body)


def test_minimal_create_is_201_and_queued(client, sb):
    resp = _create(client, sb, {"phone_number": GOOD})
    assert resp.status_code == 201
    call = resp.json()["data"]
    assert call["status"] == "queued"
    assert call["direction"] == "outbound"
    assert call["phone_call_provider"] == "sandbox"
    assert call["conversation_id"] is None and call["ended_reason"] is None
    assert call["connection_code"] == sb.call_out_connection
    assert call["created_at"].endswith("+00:00") and "." in call["created_at"]
    assert resp.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    "bad",
    ["14155550123", "+04155550123", "+1415555012345678", "+1 415 555 0123", "+1-415-5550123", "+1"],
)
def test_bad_phone_number_is_400_and_masked(client, sb, bad):
    resp = _create(client, sb, {"phone_number": bad})
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"]["code"] == "validation_error"
    assert "phone_number" in body["error"]["message"]
    assert body["error"]["details"][0]["field"] == "phone_number"
    assert bad not in resp.text  # never the full number
    assert mask_phone(bad) in body["error"]["message"]
    assert body["meta"]["request_id"] == resp.headers["x-request-id"]


def test_missing_phone_number(client, sb):
    resp = _create(client, sb, {"name": "Ada"})
    assert resp.status_code == 400
    assert resp.json()["error"]["details"] == [{"field": "phone_number", "message": "is required"}]


def test_phone_number_wrong_type(client, sb):
    resp = _create(client, sb, {"phone_number": 14155550123})
    assert resp.status_code == 400
    assert "14155550123" not in resp.text


def test_name_length_boundary(client, sb):
    assert _create(client, sb, {"phone_number": GOOD, "name": "x" * 200}).status_code == 201
    resp = _create(client, sb, {"phone_number": GOOD, "name": "y" * 201})
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "name"
    assert "y" * 201 not in resp.text


def test_participant_id_must_be_uuid(client, sb):
    ok = _create(
        client, sb, {"phone_number": GOOD, "participant_id": "0b8f6a7e-2c1d-4c55-9d0e-4c8a1f2b3c4d"}
    )
    assert ok.status_code == 201
    resp = _create(client, sb, {"phone_number": GOOD, "participant_id": "+14155559876"})
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "participant_id"
    assert "+14155559876" not in resp.text


@pytest.mark.parametrize("bad_context", [[1, 2], "text", 3])
def test_context_must_be_object(client, sb, bad_context):
    resp = _create(client, sb, {"phone_number": GOOD, "context": bad_context})
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "context"


def test_several_errors_reported_together(client, sb):
    resp = _create(client, sb, {"phone_number": "nope", "name": "z" * 300, "context": []})
    fields = [d["field"] for d in resp.json()["error"]["details"]]
    assert fields == ["phone_number", "name", "context"]


def test_context_and_schedule_plan_echoed_exactly(client, sb):
    context = {
        "participant_profile": {"first_name": "Ada", "tags": ["a", "b"], "score": 1.5},
        "custom": {"nested": {"deep": [None, True, {"x": "é"}]}},
        "dispatch_key": "campaign-1:contact-7:1",
    }
    plan = {"anything": [1, 2, 3], "mode": "asap"}
    created = _create(
        client, sb, {"phone_number": GOOD, "context": context, "schedule_plan": plan}
    ).json()["data"]
    assert created["context"] == context
    assert created["schedule_plan"] == plan
    got = client.get(f"{sb.calls_path()}/{created['id']}").json()["data"]
    assert got["context"] == context and got["schedule_plan"] == plan
    listed = client.get(sb.calls_path()).json()["data"][0]
    assert listed["context"] == context


def test_unknown_fields_ignored(client, sb):
    resp = _create(client, sb, {"phone_number": GOOD, "surprise": {"a": 1}, "voice": "x"})
    assert resp.status_code == 201
    assert "surprise" not in resp.json()["data"]


def test_invalid_json_and_non_object_body(client, sb):
    resp = client.post(
        sb.calls_path(), content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
    resp = _create(client, sb, ["+14155550123"])
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "body"
    assert "+14155550123" not in resp.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
def test_list_param_validation(client, sb, params, field):
    resp = client.get(sb.calls_path(), params=params)
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == field


def test_list_param_bounds_accepted(client, sb):
    for params in ({"limit": 1}, {"limit": 100}, {"offset": 0}, {}):
        assert client.get(sb.calls_path(), params=params).status_code == 200


def test_huge_limit_value_not_echoed(client, sb):
    resp = client.get(sb.calls_path(), params={"limit": "14155550123"})
    assert resp.status_code == 400
    assert "14155550123" not in resp.text
