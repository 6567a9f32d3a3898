"""Provider limits: the per-connection concurrency cap and the per-key token bucket."""

from __future__ import annotations

import httpx

from casey_flows.sandbox.embedded import running_sandbox
from casey_flows.sandbox.testing import wait_for


def test_concurrency_cap_holds_and_queued_calls_proceed():
    with running_sandbox(
        speed=1000, rate_limit_per_s=0, concurrency_cap=3, outcome_weights={"completed": 1.0}
    ) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        ids = [
            c.post(s.calls_path(), json={"phone_number": f"+1646555{3000 + i}"}).json()["data"][
                "id"
            ]
            for i in range(15)
        ]
        stats = s.admin.stats()
        assert stats["in_flight_by_connection"][s.call_out_connection] <= 3
        wait_for(lambda: s.admin.stats()["calls_by_status"].get("completed") == 15, timeout=20)
        final = s.admin.stats()
        assert final["max_in_flight_by_connection"][s.call_out_connection] == 3
        assert final["in_flight_by_connection"][s.call_out_connection] == 0
        assert len(ids) == 15


def test_over_cap_calls_wait_in_queued():
    with running_sandbox(speed=1000, rate_limit_per_s=0, concurrency_cap=1) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        c.post(s.calls_path(), json={"phone_number": "+14155550999"})  # long call holds the slot
        second = c.post(s.calls_path(), json={"phone_number": "+14155550100"}).json()["data"]
        wait_for(lambda: s.admin.stats()["in_flight_by_connection"][s.call_out_connection] == 1)
        for _ in range(5):
            got = c.get(f"{s.calls_path()}/{second['id']}").json()["data"]
            assert got["status"] == "queued"
        assert s.admin.stats()["queued_by_connection"][s.call_out_connection] == 1


def test_rate_limit_429_with_retry_after():
    with running_sandbox(rate_limit_per_s=5, rate_limit_burst=5) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        codes = [c.get("/connections").status_code for _ in range(12)]
        assert codes[:5] == [200] * 5
        assert 429 in codes
        resp = c.get("/connections")
        assert resp.status_code == 429
        assert resp.json()["error"]["code"] == "rate_limited"
        assert int(resp.headers["retry-after"]) >= 1
        assert 0 < int(resp.headers["retry-after-ms"]) <= 1000
        # admin and openapi are never limited
        for _ in range(10):
            assert httpx.get(f"{s.root_url}/_sandbox/stats").status_code == 200
            assert httpx.get(f"{s.root_url}/openapi.json").status_code == 200
        assert s.admin.stats()["responses_429"]["rate_limited"] >= 2
        # another key has its own bucket
        other = httpx.get(
            f"{s.base_url}/connections", headers={"Authorization": "Bearer sk_test_other"}
        )
        assert other.status_code == 200


def test_rate_limit_refills():
    import time

    with running_sandbox(rate_limit_per_s=2, rate_limit_burst=1) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        assert c.get("/connections").status_code == 200
        assert c.get("/connections").status_code == 429
        time.sleep(0.6)
        assert c.get("/connections").status_code == 200


def test_limits_switch_off():
    with running_sandbox(rate_limit_per_s=0, concurrency_cap=0, speed=1000) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        codes = {c.get("/connections").status_code for _ in range(150)}
        assert codes == {200}
        for i in range(30):
            c.post(s.calls_path(), json={"phone_number": f"+1646555{5000 + i}"})
        wait_for(lambda: s.admin.stats()["live_calls"] == 0, timeout=20)
        assert s.admin.stats()["max_in_flight_by_connection"][s.call_out_connection] > 3
