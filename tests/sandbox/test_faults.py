"""Injected faults: 5xx, latency, 429 bursts, and the two ambiguous create faults."""

from __future__ import annotations

import time

import httpx
import pytest

from casey_flows.sandbox.embedded import running_sandbox


def test_next_5xx_fails_before_doing_anything(client, sb):
    sb.admin.set_faults(next_5xx=2)
    for _ in range(2):
        resp = client.post(sb.calls_path(), json={"phone_number": "+14155550123"})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "service_unavailable"
    assert sb.admin.stats()["creates_total"] == 0  # nothing was created
    assert client.post(sb.calls_path(), json={"phone_number": "+14155550123"}).status_code == 201


def test_5xx_rate_is_seeded_and_roughly_right(client, sb):
    sb.admin.set_faults(error_5xx_rate=0.5)
    codes = [client.get("/connections").status_code for _ in range(200)]
    assert 60 < codes.count(503) < 140
    assert set(codes) == {200, 503}


def test_added_latency(client, sb):
    t0 = time.perf_counter()
    client.get("/connections")
    base = time.perf_counter() - t0
    sb.admin.set_faults(latency_ms=(150, 200))
    t0 = time.perf_counter()
    client.get("/connections")
    assert time.perf_counter() - t0 >= 0.15 > base
    t0 = time.perf_counter()
    httpx.get(f"{sb.root_url}/_sandbox/stats")  # admin is never delayed
    assert time.perf_counter() - t0 < 0.15


def test_429_burst_and_rate(client, sb):
    sb.admin.set_faults(next_429=3, retry_after_s=2)
    codes = [client.get("/connections").status_code for _ in range(5)]
    assert codes == [429, 429, 429, 200, 200]
    resp_headers = None
    sb.admin.set_faults(rate_429=1.0, retry_after_s=2)
    resp = client.get("/connections")
    resp_headers = resp.headers
    assert resp.status_code == 429 and resp_headers["retry-after"] == "2"
    assert sb.admin.stats()["responses_429"]["synthetic"] == 4


def test_ambiguous_5xx_creates_the_call(client, sb):
    sb.admin.set_faults(next_ambiguous_5xx=1)
    resp = client.post(
        sb.calls_path(),
        json={"phone_number": "+14155550123", "context": {"dispatch_key": "k-amb"}},
    )
    assert resp.status_code == 500
    stats = sb.admin.stats()
    assert stats["creates_total"] == 1
    assert stats["calls_by_dispatch_key"] == {"k-amb": 1}
    listed = client.get(sb.calls_path()).json()["data"]
    assert [c["context"]["dispatch_key"] for c in listed] == ["k-amb"]


def test_lost_create_answers_500_and_creates_nothing(client, sb):
    sb.admin.set_faults(next_lost_create=1)
    body = {"phone_number": "+14155550123", "context": {"dispatch_key": "k-lost"}}
    assert client.post(sb.calls_path(), json=body).status_code == 500
    stats = sb.admin.stats()
    assert stats["creates_total"] == 0
    assert stats["faults_injected"]["lost_create"] == 1
    assert client.get(sb.calls_path()).json()["data"] == []
    assert client.post(sb.calls_path(), json=body).status_code == 201  # only the next one


def test_ambiguous_drop_is_a_transport_error_and_the_call_exists(client, sb):
    sb.admin.set_faults(next_ambiguous_drop=1)
    with pytest.raises(httpx.TransportError) as info:
        client.post(
            sb.calls_path(),
            json={"phone_number": "+14155550123", "context": {"dispatch_key": "k-drop"}},
            headers={"Idempotency-Key": "idem-1"},
        )
    assert isinstance(info.value, httpx.RemoteProtocolError)
    stats = sb.admin.stats()
    assert stats["calls_by_idempotency_key"] == {"idem-1": 1}
    assert stats["faults_injected"]["ambiguous_drop"] == 1
    assert stats["requests"]["POST /v1/backend/connections/{code}/calls"]["dropped"] == 1
    assert len(client.get(sb.calls_path()).json()["data"]) == 1
    # the server is still healthy afterwards
    assert client.post(sb.calls_path(), json={"phone_number": "+14155550123"}).status_code == 201


def test_ambiguous_rates_only_hit_successful_creates(client, sb):
    sb.admin.set_faults(ambiguous_5xx_rate=1.0)
    assert client.get("/connections").status_code == 200
    bad = client.post(sb.calls_path(), json={"phone_number": "bad"})
    assert bad.status_code == 400
    assert sb.admin.stats()["creates_total"] == 0


def test_faults_configured_at_start_and_replaced_at_runtime():
    with running_sandbox(faults={"next_5xx": 1}, rate_limit_per_s=0) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        assert c.get("/connections").status_code == 503
        assert c.get("/connections").status_code == 200
        s.admin.set_faults(error_5xx_rate=1.0, error_5xx_status=500)
        assert s.admin.faults()["error_5xx_rate"] == 1.0
        assert c.get("/connections").status_code == 500
        s.admin.set_faults()  # replace = everything off
        assert c.get("/connections").status_code == 200
        bad = httpx.put(f"{s.root_url}/_sandbox/faults", json={"error_5xx_rate": 2})
        assert bad.status_code == 400
