"""The library's warnings in the run log a person reads in the Prefect UI, read back through the
Prefect API: under their own logger names, from tasks and from worker threads, each run's own
records only, and no line twice when Prefect ships the ``casey_flows`` logger itself too."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import Log
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL

from casey_flows.blocks import CaseyCredentials
from casey_flows.client import Call, CaseyClient
from casey_flows.core.dispatch import make_dispatch_key
from casey_flows.flows.campaign import call_campaign
from casey_flows.flows.place_call import place_call
from casey_flows.run_logs import forwarding, forwards_logs
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.sandbox.testing import wait_for
from casey_flows.warehouse.destination import WAREHOUSE_DIR_ENV
from tests.flows.test_campaign import FAST, run_campaign
from tests.warehouse.conftest import numbers, place_calls, wait_until_ended

pytestmark = pytest.mark.usefixtures("prefect_server")

DISPATCH_LOGGER = "casey_flows.core.dispatch"
TWICE = "dialled more than once"


async def _read_logs(flow_run_id: UUID) -> list[Log]:
    async with get_client() as client:
        return await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))


def run_log(
    flow_run_id: UUID, until: Callable[[list[Log]], bool], timeout: float = 20
) -> list[Log]:
    """The run's log once ``until`` holds, then complete: logs are shipped in batches."""
    wait_for(lambda: until(asyncio.run(_read_logs(flow_run_id))), timeout=timeout, interval=0.3)
    APILogWorker.drain_all(timeout=5)  # whatever this process still queues reaches the server
    return asyncio.run(_read_logs(flow_run_id))


def lines(logs: list[Log], name: str, text: str) -> list[Log]:
    return [log for log in logs if log.name == name and text in log.message]


def dialled_twice(sandbox: EmbeddedSandbox, campaign: str, number: str) -> tuple[str, list[str]]:
    """Two calls under the campaign's dispatch key for ``number`` (as if a create had been
    repeated); the campaign adopts the first and must say that the person was dialled twice."""
    key = make_dispatch_key(campaign, number, 1)
    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        calls = [
            client.create_call(
                sandbox.call_out_connection,
                number,
                context={"dispatch_key": key, "campaign_id": campaign},
            )
            for _ in range(2)
        ]
    return key, [c.id for c in calls]


def test_a_person_dialled_twice_is_an_error_of_the_dispatch_module_in_the_run_log(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    key, call_ids = dialled_twice(clean_sandbox, "logs-twice", "+12025551301")

    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": "+12025551301"}],
        campaign_id="logs-twice",
    )

    assert state.is_completed(), state.message
    flow_run_id = state.state_details.flow_run_id
    logs = run_log(flow_run_id, lambda logs: bool(lines(logs, DISPATCH_LOGGER, key)))
    [error] = lines(logs, DISPATCH_LOGGER, key)
    assert error.level == logging.ERROR and TWICE in error.message
    assert all(call_id in error.message for call_id in call_ids)
    assert error.task_run_id is not None  # the dial-contacts task run's, shown there too


def test_a_failed_poll_is_a_warning_of_the_waiter_in_the_run_log(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    # No retries in the client: one injected 503 fails one poll (the waiter retries it).
    CaseyCredentials(
        api_key=clean_sandbox.api_key, base_url=clean_sandbox.base_url, max_retries=0
    ).save("casey-test-no-retries", overwrite=True)
    states: list[Any] = []
    run = threading.Thread(
        target=lambda: states.append(
            asyncio.run(
                place_call(  # type: ignore[func-returns-value]
                    phone_number="+12025550999",  # 0999: a long call
                    connection_code=clean_sandbox.call_out_connection,
                    credentials_block="casey-test-no-retries",
                    timeout_seconds=60,
                    return_state=True,
                )
            )
        )
    )
    run.start()
    try:
        wait_for(lambda: clean_sandbox.admin.stats()["creates_total"] == 1, timeout=30)
        clean_sandbox.admin.set_faults(next_5xx=1)  # the next request is a poll
        wait_for(lambda: clean_sandbox.admin.faults()["next_5xx"] == 0, timeout=10, interval=0.1)
        [call] = _calls(clean_sandbox)
        clean_sandbox.admin.force_outcome(call.id, "completed")
    finally:
        run.join(timeout=60)
        clean_sandbox.admin.set_faults()

    [state] = states
    assert state.is_completed(), state.message
    logs = run_log(
        state.state_details.flow_run_id,
        lambda logs: bool(lines(logs, "casey_flows.core.waiting", "failed, will retry")),
    )
    [warning] = lines(logs, "casey_flows.core.waiting", "failed, will retry")
    assert warning.level == logging.WARNING
    assert "503" in warning.message and clean_sandbox.call_out_connection in warning.message


def _calls(sandbox: EmbeddedSandbox) -> list[Call]:
    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        return list(client.iter_calls(sandbox.call_out_connection))


@pytest.fixture
def gone(clean_sandbox: EmbeddedSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
    """A few ended calls, one of whose conversations now answers 404: a sync (into a warehouse
    of the test's own) warns about it."""
    monkeypatch.setenv(WAREHOUSE_DIR_ENV, str(tmp_path / "warehouse"))
    wait_until_ended(clean_sandbox, place_calls(clean_sandbox, numbers(6)))
    call = next(c for c in _calls(clean_sandbox) if c.conversation_id)
    clean_sandbox.admin.forget_conversation(call.conversation_id)
    return call


def test_a_warning_from_the_syncs_worker_threads_is_in_the_run_log_and_its_report(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, gone: Call
) -> None:
    from casey_flows.flows.sync import sync_calls

    threads: list[str] = []

    class Threads(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            threads.append(record.threadName)

    source_logger = logging.getLogger("casey_flows.warehouse.source")
    seen = Threads(level=logging.WARNING)
    source_logger.addHandler(seen)
    try:
        state = asyncio.run(
            sync_calls(  # type: ignore[func-returns-value]
                [clean_sandbox.call_out_connection],
                credentials_block=credentials_block,
                list_lag_seconds=1.0,
                return_state=True,
            )
        )
    finally:
        source_logger.removeHandler(seen)

    assert state.is_completed(), state.message
    assert threads and threading.main_thread().name not in threads  # a worker thread's record
    logs = run_log(
        state.state_details.flow_run_id,
        lambda logs: bool(lines(logs, "casey_flows.warehouse.source", gone.conversation_id)),
    )
    [warning] = lines(logs, "casey_flows.warehouse.source", gone.conversation_id)
    assert warning.level == logging.WARNING and "answered 404" in warning.message
    assert any(gone.conversation_id in w for w in state.result().warnings)  # and in the report


def test_runs_at_once_in_one_process_each_log_only_their_own_records(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, gone: Call
) -> None:
    from casey_flows.flows.sync import sync_calls

    # Long calls (0999): both campaigns watch theirs until the sync is done, so all three runs
    # are open while the sync's worker threads log.
    first, first_calls = dialled_twice(clean_sandbox, "logs-apart-a", "+12025510999")
    second, second_calls = dialled_twice(clean_sandbox, "logs-apart-b", "+12025520999")

    def campaign(campaign_id: str, number: str) -> Any:
        return call_campaign(  # type: ignore[func-returns-value]
            credentials_block=credentials_block,
            connection_code=clean_sandbox.call_out_connection,
            contacts=[{"phone_number": number}],
            campaign_id=campaign_id,
            return_state=True,
            **FAST,
        )

    async def sync_then_end_the_calls() -> Any:
        state = await sync_calls(  # type: ignore[func-returns-value]
            [clean_sandbox.call_out_connection],
            credentials_block=credentials_block,
            list_lag_seconds=1.0,
            return_state=True,
        )
        for call_id in first_calls + second_calls:
            await asyncio.to_thread(clean_sandbox.admin.force_outcome, call_id, "completed")
        return state

    async def together() -> list[Any]:
        return await asyncio.gather(
            campaign("logs-apart-a", "+12025510999"),
            campaign("logs-apart-b", "+12025520999"),
            sync_then_end_the_calls(),
        )

    states = asyncio.run(together())

    assert all(s.is_completed() for s in states), [s.message for s in states]
    # Each run's own line: the campaigns' from their event loop, the sync's from its threads.
    own = [
        (DISPATCH_LOGGER, first),
        (DISPATCH_LOGGER, second),
        ("casey_flows.warehouse.source", gone.conversation_id),
    ]
    for state, (name, marker) in zip(states, own, strict=True):
        logs = run_log(
            state.state_details.flow_run_id,
            lambda logs, name=name, marker=marker: bool(lines(logs, name, marker)),
        )
        assert len(lines(logs, name, marker)) == 1
        text = "\n".join(log.message for log in logs)
        assert [m for _, m in own if m != marker and m in text] == []


@forwards_logs
@flow(name="bare-thread-probe")
async def bare_thread_probe(marker: str) -> list[str]:
    """A flow of the library's kind whose library code logs from a thread started without the
    run's context (a pool that copies none), and from the sandbox, which is never forwarded."""

    def work() -> None:
        logging.getLogger("casey_flows.tests.bare").warning("from a bare thread %s", marker)
        logging.getLogger("casey_flows.sandbox.tests").warning("sandbox line %s", marker)

    with forwarding() as warnings:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    return warnings


def test_a_thread_without_the_runs_context_still_logs_into_the_run(prefect_server: None) -> None:
    state = asyncio.run(bare_thread_probe("m-1", return_state=True))  # type: ignore[call-overload]

    assert state.is_completed(), state.message
    assert state.result() == ["from a bare thread m-1"]  # the sandbox's line is not collected
    logs = run_log(
        state.state_details.flow_run_id,
        lambda logs: bool(lines(logs, "casey_flows.tests.bare", "m-1")),
    )
    assert len(lines(logs, "casey_flows.tests.bare", "m-1")) == 1
    assert not any("sandbox line" in log.message for log in logs)


EXTRA_LOGGERS_RUN = """
import asyncio, logging, sys
from prefect.logging.handlers import APILogHandler
from casey_flows.flows.campaign import call_campaign
from casey_flows.run_logs import RunLogHandler
from tests.flows.test_campaign import FAST
from tests.flows.test_run_logs import bare_thread_probe

async def main():
    handlers = logging.getLogger("casey_flows").handlers
    assert any(type(h) is APILogHandler for h in handlers), "Prefect's handler is not on it"
    campaign = await call_campaign(connection_code=sys.argv[1], credentials_block=sys.argv[2],
        contacts=[{"phone_number": sys.argv[3]}], campaign_id=sys.argv[4], return_state=True,
        **FAST)
    probe = await bare_thread_probe("m-2", return_state=True)
    for state in (campaign, probe):
        assert state.is_completed(), state.message
        print(state.state_details.flow_run_id)
    assert any(type(h) is RunLogHandler for h in handlers)

asyncio.run(main())
"""


def test_with_prefects_extra_loggers_set_no_line_is_shipped_twice(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    number, campaign = "+12025551321", "logs-extra-loggers"
    key, _ = dialled_twice(clean_sandbox, campaign, number)
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_LOGGING_EXTRA_LOGGERS": "casey_flows",
    }
    args = [clean_sandbox.call_out_connection, credentials_block, number, campaign]
    done = subprocess.run(
        [sys.executable, "-c", EXTRA_LOGGERS_RUN, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    campaign_run, probe_run = (UUID(line) for line in done.stdout.split())

    # Prefect's own handler ships the dispatch error (it has a run context); ours does not.
    logs = run_log(campaign_run, lambda logs: bool(lines(logs, DISPATCH_LOGGER, key)))
    assert len(lines(logs, DISPATCH_LOGGER, key)) == 1
    # A thread without a run context: Prefect's handler cannot place the line; ours ships it.
    logs = run_log(probe_run, lambda logs: bool(lines(logs, "casey_flows.tests.bare", "m-2")))
    assert len(lines(logs, "casey_flows.tests.bare", "m-2")) == 1


def test_forwarding_keeps_each_flows_own_version() -> None:
    """Prefect versions a flow by the hash of its function's file: wrapping the built flow keeps
    that file the flow module's, not run_logs.py's (one version for every flow)."""
    from casey_flows import call_campaign, call_report, campaign_status, place_call, sync_calls

    flows = [call_campaign, call_report, campaign_status, place_call, sync_calls]
    assert len({f.version for f in flows}) == len(flows)
    assert call_campaign.with_options(name="copy").version == call_campaign.version
