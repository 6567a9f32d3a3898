"""Lifecycle: magic numbers, seeded outcome mix, conversation ids, schedule_plan, forcing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from casey_flows.sandbox import MAGIC_SUFFIXES
from casey_flows.sandbox.embedded import running_sandbox
from casey_flows.sandbox.testing import wait_for, wait_for_terminal

EXPECTED = {
    "0100": ("completed", "customer_ended_call", True),
    "0486": ("busy", "busy", False),
    "0408": ("no_answer", "no_answer", False),
    "0555": ("completed", "voicemail", True),
    "0500": ("failed", "provider_error", False),
}


def test_magic_suffixes_are_the_documented_ones():
    assert set(MAGIC_SUFFIXES) == {"0100", "0486", "0408", "0555", "0500", "0999"}


@pytest.mark.parametrize("suffix", sorted(EXPECTED))
def test_magic_number_reaches_its_terminal_status(client, sb, suffix):
    status, reason, connects = EXPECTED[suffix]
    created = client.post(sb.calls_path(), json={"phone_number": f"+1415555{suffix}"}).json()
    call = wait_for_terminal(client, sb.calls_path(), created["data"]["id"])
    assert (call["status"], call["ended_reason"]) == (status, reason)
    if connects:
        assert call["conversation_id"] is not None
    else:
        assert call["conversation_id"] is None


def test_status_passes_through_ringing_and_in_progress(client, sb):
    """Watch one call at a slower speed to see every intermediate status."""
    with running_sandbox(speed=20, rate_limit_per_s=0, ring_time_s=4) as slow:
        c = httpx.Client(base_url=slow.base_url, headers=slow.headers)
        created = c.post(slow.calls_path(), json={"phone_number": "+14155550100"}).json()
        call_id = created["data"]["id"]
        seen: list[str] = [created["data"]["status"]]

        def observe():
            data = c.get(f"{slow.calls_path()}/{call_id}").json()["data"]
            if not seen or seen[-1] != data["status"]:
                seen.append(data["status"])
                if data["status"] == "in_progress":
                    assert data["conversation_id"] is not None
            return data["status"] == "completed"

        wait_for(observe, timeout=15, interval=0.005)
        assert seen[0] == "queued"
        assert "ringing" in seen and "in_progress" in seen
        assert seen.index("ringing") < seen.index("in_progress") < seen.index("completed")


def test_long_call_stays_in_progress(client, sb):
    with running_sandbox(
        speed=1000, rate_limit_per_s=0, call_duration_mean_s=60, ring_time_s=1
    ) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        long_id = c.post(s.calls_path(), json={"phone_number": "+14155550999"}).json()["data"]["id"]
        short_id = c.post(s.calls_path(), json={"phone_number": "+14155550100"}).json()["data"][
            "id"
        ]
        wait_for_terminal(c, s.calls_path(), short_id)
        # 20 x 60 s = 1200 s at speed 1000 = 1.2 s; the normal call took ~0.06 s.
        assert c.get(f"{s.calls_path()}/{long_id}").json()["data"]["status"] == "in_progress"
        call = wait_for_terminal(c, s.calls_path(), long_id, timeout=10)
        assert call["status"] == "completed" and call["conversation_id"]


def _outcomes(seed: int, n: int = 40) -> list[tuple[str, str]]:
    with running_sandbox(seed=seed, speed=1000, rate_limit_per_s=0, concurrency_cap=0) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        ids = [
            c.post(s.calls_path(), json={"phone_number": f"+1212555{1000 + i}"}).json()["data"][
                "id"
            ]
            for i in range(n)
        ]
        calls = [wait_for_terminal(c, s.calls_path(), i) for i in ids]
        return [(x["status"], x["ended_reason"]) for x in calls]


def test_outcome_mix_is_deterministic_per_seed():
    first = _outcomes(seed=7)
    assert _outcomes(seed=7) == first
    assert _outcomes(seed=8) != first
    assert len(set(first)) >= 3  # a real mix, not one outcome


def test_outcome_weights_are_respected():
    with running_sandbox(
        speed=1000, rate_limit_per_s=0, concurrency_cap=0, outcome_weights={"busy": 1.0}
    ) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        ids = [
            c.post(s.calls_path(), json={"phone_number": f"+1212555{2000 + i}"}).json()["data"][
                "id"
            ]
            for i in range(10)
        ]
        assert {wait_for_terminal(c, s.calls_path(), i)["status"] for i in ids} == {"busy"}
        # magic numbers win over the mix
        magic = c.post(s.calls_path(), json={"phone_number": "+12125550100"}).json()["data"]
        assert wait_for_terminal(c, s.calls_path(), magic["id"])["status"] == "completed"


def _iso(delta_s: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=delta_s)).isoformat()


def test_schedule_plan_earliest_at_delays_dialling(client, sb):
    plan = {"earliest_at": _iso(0.8), "note": "kept verbatim"}
    call = client.post(
        sb.calls_path(), json={"phone_number": "+14155550100", "schedule_plan": plan}
    ).json()["data"]
    assert call["status"] == "scheduled"
    assert call["schedule_plan"] == plan
    # earliest_at is wall-clock time: the speed factor does not shorten it
    import time

    time.sleep(0.3)
    assert client.get(f"{sb.calls_path()}/{call['id']}").json()["data"]["status"] == "scheduled"
    done = wait_for_terminal(client, sb.calls_path(), call["id"])
    assert done["status"] == "completed"


def test_schedule_plan_latest_at_expires(client, sb):
    plan = {"earliest_at": _iso(5), "latest_at": _iso(0.3)}
    call = client.post(
        sb.calls_path(), json={"phone_number": "+14155550100", "schedule_plan": plan}
    ).json()["data"]
    done = wait_for_terminal(client, sb.calls_path(), call["id"])
    assert (done["status"], done["ended_reason"]) == ("failed", "schedule_expired")
    assert done["conversation_id"] is None


def test_schedule_plan_bad_timestamp_is_400(client, sb):
    resp = client.post(
        sb.calls_path(),
        json={"phone_number": "+14155550100", "schedule_plan": {"earliest_at": "tomorrow"}},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "schedule_plan.earliest_at"


def test_admin_can_force_an_outcome(client, sb):
    call = client.post(sb.calls_path(), json={"phone_number": "+14155550999"}).json()["data"]
    forced = sb.admin.force_outcome(call["id"], "no_answer")["data"]
    assert (forced["status"], forced["ended_reason"]) == ("no_answer", "no_answer")
    got = client.get(f"{sb.calls_path()}/{call['id']}").json()["data"]
    assert got["status"] == "no_answer"
