"""Crashes: the flow process SIGKILLed, the sandbox restarted, the Prefect server restarted.

Whatever dies, a campaign either completes with an outcome for every contact, or fails loudly;
it never drops a contact silently and never dials a dispatch key twice. The sandbox (its stats,
or after a restart its persisted call list) is the witness.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL

from casey_flows.campaign.control import release_campaign_lease
from casey_flows.client import CaseyClient
from casey_flows.core.dispatch import dispatch_key_of
from casey_flows.sandbox.embedded import EmbeddedSandbox, start_sandbox_process
from casey_flows.sandbox.testing import wait_for
from deployments.spec import REPO_ROOT
from tests.deployments.stack import PrefectStack
from tests.reliability.conftest import assert_exactly_once, numbers, run_campaign, save_block

pytestmark = [pytest.mark.reliability]

RESULT_MARKER = "RESULT "


def write_contacts(path: Path, phones: list[str]) -> str:
    path.write_text("phone_number\n" + "\n".join(phones) + "\n", encoding="utf-8")
    return str(path)


def start_campaign_process(
    tmp_path: Path, spec: dict[str, Any], env: dict[str, str], name: str = "spec"
) -> subprocess.Popen[str]:
    spec_path = tmp_path / f"{name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.campaign_process", str(spec_path)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float) -> tuple[dict[str, Any] | None, str]:
    """The RESULT report (None if the process died without one) and stderr's tail."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"campaign process hung for {timeout} s:\n{err[-3000:]}")
    reports = [line for line in out.splitlines() if line.startswith(RESULT_MARKER)]
    report = json.loads(reports[-1][len(RESULT_MARKER) :]) if reports else None
    return report, err[-3000:]


def calls_by_key(sandbox: EmbeddedSandbox) -> Counter[str]:
    """Dispatch keys as the sandbox's persisted call list holds them (stats reset on restart)."""
    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        calls = list(client.iter_calls(sandbox.call_out_connection))
    return Counter(dispatch_key_of(c) or f"no-key:{c.id}" for c in calls)


# -- SIGKILL x5 ---------------------------------------------------------------------------------


def campaign_in_thread(
    sandbox: EmbeddedSandbox, block: str, phones: list[str], **params: Any
) -> tuple[threading.Thread, dict[str, Any]]:
    """Start a campaign in a thread, so the test can crash or restart things under it."""
    outcome: dict[str, Any] = {}

    def campaign() -> None:
        outcome["state"] = run_campaign(
            sandbox, block, contacts=[{"phone_number": p} for p in phones], **params
        )

    runner = threading.Thread(target=campaign)
    runner.start()
    return runner, outcome


def test_five_sigkills_at_seeded_points_then_rerun_dials_each_contact_once(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    count = 60
    phones = numbers(count, start=2000)
    spec = {
        "connection_code": clean_sandbox.call_out_connection,
        "contacts_file": write_contacts(tmp_path / "contacts.csv", phones),
        "credentials_block": credentials_block,
        "campaign_id": "sigkill-x5",
        "limits": {"max_concurrent_calls": 6, "max_requests_per_second": 40.0},
    }
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    # Five increasing kill points (creates seen by the sandbox), each plus a random delay so the
    # kill lands in different phases: mid-create, mid-poll, mid-reconcile, in Prefect's code.
    thresholds = sorted(rng.sample(range(3, count - 5), 5))
    kills: list[int] = []
    alive: list[bool] = []
    for round_number, threshold in enumerate(thresholds):
        process = start_campaign_process(tmp_path, spec, env, f"kill-{round_number}")
        try:
            wait_for(
                lambda t=threshold, p=process: (
                    clean_sandbox.admin.stats()["creates_total"] >= t or p.poll() is not None
                ),
                timeout=60,
            )
            time.sleep(rng.uniform(0, 0.4))
            alive.append(process.poll() is None)
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
        kills.append(clean_sandbox.admin.stats()["creates_total"])
        assert clean_sandbox.admin.stats()["duplicates"]["dispatch_keys"] == {}, round_number
        # The test server is Prefect's ephemeral kind: nothing takes back a killed run's lease
        # (a Prefect server does in ~75 s), so it is freed as a person would, by hand.
        asyncio.run(release_campaign_lease(spec["campaign_id"]))
    assert alive == [True] * 5, f"every kill must land in a running campaign: {alive}"
    assert kills[0] < count, f"kills must land before every contact was dialled: {kills}"
    print(f"creates at each kill: {kills}")

    process = start_campaign_process(tmp_path, spec, env, "final")
    report, err = finish(process, timeout=120)
    assert report is not None and report["type"] == "COMPLETED", err
    assert_exactly_once(clean_sandbox.admin.stats(), phones)
    outcomes = report["outcomes"]
    assert sorted(o["phone_number"] for o in outcomes) == sorted(phones)
    assert all(len(o["call_ids"]) == 1 for o in outcomes), outcomes
    assert "error" not in {o["outcome"] for o in outcomes}


# -- the sandbox restarted, with or without its last flush ------------------------------------


class RestartableSandbox:
    """A sandbox process persisting to ``tmp_path``, restarted on the same port under a campaign."""

    def __init__(self, tmp_path: Path, block_name: str, **settings: Any) -> None:
        self._db = str(tmp_path / "sandbox.db")
        self._settings = settings
        self.first = start_sandbox_process(db_path=self._db, **settings)
        self.second: EmbeddedSandbox | None = None
        self.block = save_block(block_name, self.first.api_key, self.first.base_url)

    def restart(self, *, flush: bool) -> EmbeddedSandbox:
        """SIGTERM (the SQLite mirror is flushed) or SIGKILL (calls since the last flush lost)."""
        if flush:
            self.first.stop()
            time.sleep(1.0)
        else:
            os.kill(self.first.pid, signal.SIGKILL)
            time.sleep(0.5)
        port = self.first.root_url.rsplit(":", 1)[1]
        self.second = start_sandbox_process(
            db_path=self._db, extra_args=["--port", port], **self._settings
        )
        assert self.second.root_url == self.first.root_url
        return self.second

    def stop(self) -> None:
        self.first.stop()
        if self.second is not None:
            self.second.stop()


def test_sandbox_restart_mid_campaign_completes_or_fails_loudly(
    prefect_server: None, tmp_path: Path
) -> None:
    settings = {"seed": 5, "speed": 100, "rate_limit_per_s": 0, "concurrency_cap": 20}
    sandboxes = RestartableSandbox(tmp_path, "casey-restart", **settings)
    phones = numbers(60, start=4000)
    runner, outcome = campaign_in_thread(
        sandboxes.first,
        sandboxes.block,
        phones,
        campaign_id="sandbox-restart",
        limits={"max_concurrent_calls": 8, "max_requests_per_second": 40.0},
    )
    try:
        wait_for(lambda: sandboxes.first.admin.stats()["creates_total"] >= 20, timeout=60)
        second = sandboxes.restart(flush=True)
        runner.join(timeout=120)
        assert not runner.is_alive(), "the campaign hung after the sandbox came back"
        state = outcome["state"]
        by_key = calls_by_key(second)
    finally:
        sandboxes.stop()
        runner.join(timeout=5)
    assert {k: n for k, n in by_key.items() if n > 1} == {}, "a dispatch key was dialled twice"
    print(f"after the sandbox restart: {state.type.value} {state.message}")
    if state.is_completed():
        result = state.result()
        assert sorted(o.phone_number for o in result.outcomes) == sorted(phones)
        dialled = {o.phone_number for o in result.outcomes if o.call_ids}
        errors = result.by_outcome("error")
        assert dialled | {o.phone_number for o in errors} == set(phones)
        assert all(o.reason for o in errors)
        assert len(by_key) == len(dialled)
    else:
        assert state.is_failed() and state.message, state


# -- the Prefect server restarted -------------------------------------------------------------


def test_prefect_server_restart_mid_campaign_completes_or_fails_loudly(
    clean_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    stack = PrefectStack(tmp_path / "prefect-home")
    phones = numbers(60, start=6000)
    spec = {
        "connection_code": clean_sandbox.call_out_connection,
        "contacts_file": write_contacts(tmp_path / "contacts.csv", phones),
        "credentials_block": "casey-server-restart",
        "api_key": clean_sandbox.api_key,
        "base_url": clean_sandbox.base_url,
        "campaign_id": "server-restart",
        "limits": {"max_concurrent_calls": 6, "max_requests_per_second": 20.0},
    }
    try:
        stack.start_server()
        process = start_campaign_process(tmp_path, spec, stack.env)
        wait_for(
            lambda: (
                clean_sandbox.admin.stats()["creates_total"] >= 10 or process.poll() is not None
            ),
            timeout=90,
        )
        assert process.poll() is None, "the campaign ended before the restart"
        stack.services[-1].stop(timeout=10)
        time.sleep(1.0)
        stack.start_server()
        report, err = finish(process, timeout=150)
    finally:
        stack.stop()
    stats = clean_sandbox.admin.stats()
    print(f"after the server restart: {report and report['type']} {report and report['message']}")
    assert stats["duplicates"]["dispatch_keys"] == {}
    if report is not None and report["type"] == "COMPLETED":
        outcomes = report["outcomes"]
        assert sorted(o["phone_number"] for o in outcomes) == sorted(phones)
        assert_exactly_once(stats, phones)
    else:
        # Failed loudly: a non-zero exit with the reason on stderr, or a failed state.
        assert process.returncode != 0
        assert (report and report["message"]) or err.strip(), "failed without saying why"


def test_sandbox_crash_that_loses_calls_does_not_stall_the_other_calls(
    prefect_server: None, tmp_path: Path
) -> None:
    """SIGKILL the sandbox between two flushes of its SQLite mirror: the calls created since the
    last flush are gone after the restart (GET answers 404). The campaign must still follow
    every other call to its end, and give the lost ones an outcome without dialling them again.
    """
    settings = {
        "seed": 9,
        "speed": 20,
        "rate_limit_per_s": 0,
        "concurrency_cap": 0,
        "db_flush_interval_s": 2.0,
    }
    sandboxes = RestartableSandbox(tmp_path, "casey-crash", **settings)
    phones = numbers(30, start=7000)
    runner, outcome = campaign_in_thread(
        sandboxes.first,
        sandboxes.block,
        phones,
        campaign_id="sandbox-crash",
        limits={
            "max_concurrent_calls": 30,
            "max_requests_per_second": 8.0,
            "call_timeout_seconds": 90,
        },
    )
    started = time.monotonic()
    try:
        # Kill right after a create (polling every 2 ms): the flush that would save it is up to
        # 2 s away, so the newest calls are surely lost and the older ones surely kept.
        wait_for(
            lambda: sandboxes.first.admin.stats()["creates_total"] >= 24,
            timeout=60,
            interval=0.002,
        )
        second = sandboxes.restart(flush=False)  # no final flush
        runner.join(timeout=150)
        assert not runner.is_alive(), "the campaign hung after the sandbox crash"
        state = outcome["state"]
        kept = calls_by_key(second)
    finally:
        sandboxes.stop()
        runner.join(timeout=5)
    elapsed = time.monotonic() - started
    assert {k: n for k, n in kept.items() if n > 1} == {}
    assert 0 < len(kept) < 30, f"the crash must lose some calls and keep others: {len(kept)}"
    assert state.is_completed(), state.message
    result = state.result()
    assert sorted(o.phone_number for o in result.outcomes) == sorted(phones)
    assert all(len(o.call_ids) == 1 for o in result.outcomes), "a lost call was dialled again"
    assert len(result.by_outcome("still_open")) == 0, result.counts
    assert len(result.by_outcome("error")) == 30 - len(kept), result.counts
    assert elapsed < 60, f"the surviving calls waited for the lost ones: {elapsed:.0f} s"
