"""/openapi.json describes the emulated API truthfully; admin stats and reset behave."""

from __future__ import annotations

import httpx

from casey_flows.sandbox.testing import wait_for
from casey_flows.sandbox.wire import Call, Connection


def test_openapi_lists_the_api_surface(sb):
    doc = httpx.get(f"{sb.root_url}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert set(paths) == {
        "/v1/backend/connections/{code}/calls",
        "/v1/backend/connections/{code}/calls/{call_id}",
        "/v1/backend/connections",
        "/v1/backend/connections/{code}",
        "/v1/backend/conversations",
        "/v1/backend/conversations/{conversation_id}",
        "/v1/backend/conversations/{conversation_id}/fields",
        "/v1/backend/conversations/{conversation_id}/transcripts",
    }
    create = paths["/v1/backend/connections/{code}/calls"]["post"]
    assert {"201", "400", "401", "404", "409", "429"} <= set(create["responses"])
    body_schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["phone_number"]
    listing = paths["/v1/backend/connections/{code}/calls"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"code", "limit", "offset", "status"}
    conns = paths["/v1/backend/connections"]["get"]
    assert {p["name"] for p in conns["parameters"]} == {"limit", "after", "before", "agent_id"}
    assert create["security"] == [{"bearerAuth": []}]
    assert "CallEnvelope" in doc["components"]["schemas"]
    conversations = paths["/v1/backend/conversations"]["get"]
    assert {p["name"] for p in conversations["parameters"]} == {
        "limit",
        "after",
        "before",
        "status",
    }
    status = next(p for p in conversations["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == [
        "pending",
        "in_progress",
        "completed",
        "abandoned",
        "archived",
    ]
    fields = paths["/v1/backend/conversations/{conversation_id}/fields"]["get"]
    assert {p["name"] for p in fields["parameters"]} == {"conversation_id", "active_only"}
    for path, operations in paths.items():
        assert operations["get" if "get" in operations else "post"]["security"] == [
            {"bearerAuth": []}
        ], path
    assert {"ConversationEnvelope", "TranscriptEnvelope"} <= set(doc["components"]["schemas"])
    assert not any(p.startswith("/_sandbox") for p in paths)


def test_real_responses_match_the_documented_models(client, sb):
    call = client.post(sb.calls_path(), json={"phone_number": "+14155550100"}).json()["data"]
    Call.model_validate(call)
    assert set(call) == set(Call.model_fields)
    conn = client.get(f"/connections/{sb.call_out_connection}").json()["data"]
    Connection.model_validate(conn)


def test_stats_count_routes_phones_and_keys(client, sb):
    for key in ("a", "b", "a"):
        client.post(
            sb.calls_path(),
            json={"phone_number": "+14155550100", "context": {"dispatch_key": key}},
            headers={"Idempotency-Key": f"idem-{key}"},
        )
    client.post(sb.calls_path(), json={"phone_number": "+14155550486"})
    client.get(sb.calls_path())
    client.get("/connections/nope/calls")
    stats = sb.admin.stats()
    assert stats["creates_total"] == 4
    assert stats["calls_by_phone"] == {"+14155550100": 3, "+14155550486": 1}
    assert stats["duplicates"]["phone_numbers"] == {"+14155550100": 3}
    assert stats["calls_by_dispatch_key"] == {"a": 2, "b": 1}
    assert stats["duplicates"]["dispatch_keys"] == {"a": 2}
    assert stats["calls_by_idempotency_key"] == {"idem-a": 2, "idem-b": 1}
    route = "/v1/backend/connections/{code}/calls"
    assert stats["requests"][f"POST {route}"] == {"201": 4}
    assert stats["requests"][f"GET {route}"] == {"200": 1, "404": 1}
    wait_for(lambda: sb.admin.stats()["live_calls"] == 0)
    by_status = sb.admin.stats()["calls_by_status"]
    assert by_status == {"completed": 3, "busy": 1}
    assert sb.admin.stats()["ticker"]["keeping_up"] is True


def test_reset_clears_calls_and_stats_but_keeps_config(client, sb):
    client.post(sb.calls_path(), json={"phone_number": "+14155550100"})
    sb.admin.set_faults(latency_ms=(1, 2))
    sb.admin.reset()
    stats = sb.admin.stats()
    assert stats["creates_total"] == 0 and stats["calls_total"] == 0
    assert stats["requests"] == {}
    assert client.get(sb.calls_path()).json()["data"] == []
    assert sb.admin.faults()["latency_ms"] == [1.0, 2.0]  # faults are config, kept
