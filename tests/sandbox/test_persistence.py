"""SQLite persistence: calls survive a restart and live calls resume their lifecycle."""

from __future__ import annotations

import httpx

from casey_flows.sandbox.embedded import running_sandbox
from casey_flows.sandbox.testing import wait_for, wait_for_terminal


def test_calls_survive_restart_and_resume(tmp_path):
    db = str(tmp_path / "sandbox.db")
    common = {"db_path": db, "rate_limit_per_s": 0, "concurrency_cap": 2}
    with running_sandbox(speed=1000, **common) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        done_id = c.post(s.calls_path(), json={"phone_number": "+14155550486"}).json()["data"]["id"]
        wait_for_terminal(c, s.calls_path(), done_id)
    # a slow run: these calls are still live when the server stops
    with running_sandbox(speed=0.01, **common) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        live_ids = [
            c.post(
                s.calls_path(),
                json={"phone_number": f"+1415555{n}", "context": {"k": n}},
            ).json()["data"]["id"]
            for n in ("0100", "0555", "0408")
        ]
        assert s.admin.stats()["live_calls"] == 3
    with running_sandbox(speed=1000, **common) as s:
        c = httpx.Client(base_url=s.base_url, headers=s.headers)
        stats = s.admin.stats()
        assert stats["calls_total"] == 4
        assert stats["persistence"]["resumed_calls"] == 3
        old = c.get(f"{s.calls_path()}/{done_id}").json()["data"]
        assert old["status"] == "busy"
        finals = [wait_for_terminal(c, s.calls_path(), i) for i in live_ids]
        assert [(f["status"], f["ended_reason"]) for f in finals] == [
            ("completed", "customer_ended_call"),
            ("completed", "voicemail"),
            ("no_answer", "no_answer"),
        ]
        assert [f["context"] for f in finals] == [{"k": "0100"}, {"k": "0555"}, {"k": "0408"}]
        listed = [x["id"] for x in c.get(s.calls_path()).json()["data"]]
        assert listed == [*live_ids[::-1], done_id]
        new = c.post(s.calls_path(), json={"phone_number": "+14155550100"}).json()["data"]
        assert c.get(s.calls_path()).json()["data"][0]["id"] == new["id"]
        wait_for(lambda: s.admin.stats()["persistence"]["pending_rows"] == 0)


def test_reset_clears_the_database(tmp_path):
    db = str(tmp_path / "reset.db")
    with running_sandbox(db_path=db, rate_limit_per_s=0) as s:
        httpx.post(
            s.base_url + s.calls_path(), json={"phone_number": "+14155550100"}, headers=s.headers
        )
        s.admin.reset()
    with running_sandbox(db_path=db, rate_limit_per_s=0) as s:
        assert s.admin.stats()["calls_total"] == 0
