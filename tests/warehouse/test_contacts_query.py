"""``ContactsQuery`` with no block: the embedded DuckDB warehouse ``sync_calls`` loads.

"Everyone who answered appointment_confirmed=no" without a database block, read under the
pipeline's one-writer lock and released before the campaign dials: while calls are placed, a
sync could take the lock and write the DuckDB file.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import Any

import pytest

from casey_flows import ContactsQuery
from casey_flows.campaign.engine import CampaignEngine
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse.destination import default_duckdb_path, pipelines_dir
from tests.flows.test_campaign import run_campaign
from tests.warehouse.conftest import place_calls, wait_until_ended
from tests.warehouse.test_sync_flow import run_sync

pytestmark = pytest.mark.usefixtures("prefect_server", "warehouse")

# The sandbox's magic answers (digits 5-7 from the end): 991 says yes, 992 says no.
SAID_YES = ["+14159910101", "+14159910102"]
SAID_NO = ["+14159920101", "+14159920102"]
SAID_NO_QUERY = (
    "SELECT c.phone_number, a.appointment_confirmed AS context_answer "
    "FROM calls AS c JOIN conversation_answers AS a ON a.conversation_id = c.conversation_id "
    "WHERE a.appointment_confirmed = $answer ORDER BY c.phone_number"
)


def writable_while_dialling(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """When the engine starts dialling: is the sync lock free, and can DuckDB be written?"""
    seen: list[dict[str, Any]] = []
    original = CampaignEngine.run

    async def run(self: CampaignEngine, tracks: Any) -> Any:
        import duckdb

        with open(pipelines_dir() / "casey_calls.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free = True
                fcntl.flock(lock, fcntl.LOCK_UN)
            except BlockingIOError:
                free = False
        with duckdb.connect(str(default_duckdb_path())) as db:
            db.execute("CREATE OR REPLACE TABLE casey.written_while_dialling AS SELECT 1 AS x")
        seen.append({"lock_free": free})
        return await original(self, tracks)

    monkeypatch.setattr(CampaignEngine, "run", run)
    return seen


def test_a_campaign_from_the_warehouse_dials_who_answered_no_and_leaves_it_writable(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wait_until_ended(clean_sandbox, place_calls(clean_sandbox, SAID_YES + SAID_NO))
    synced = run_sync(clean_sandbox, credentials_block)
    assert synced.is_completed(), synced.message
    seen = writable_while_dialling(monkeypatch)

    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(query=SAID_NO_QUERY, parameters={"answer": "no"}),
        campaign_id="follow-up-the-noes",
    )

    assert state.is_completed(), state.message
    # The earlier calls once each; the campaign dialled exactly the two who said no.
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {
        **dict.fromkeys(SAID_YES, 1),
        **dict.fromkeys(SAID_NO, 2),
    }
    assert seen == [{"lock_free": True}]


def test_a_bad_warehouse_query_fails_before_dialling_and_names_the_tables(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(query="SELECT phone_number FROM answers"),
    )
    assert state.is_failed()
    assert "Table with name answers does not exist" in str(state.message)
    assert "conversation_answers" in str(state.message)
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_a_warehouse_query_past_its_timeout_is_interrupted_and_frees_the_lock(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    import asyncio

    from casey_flows.campaign.query import read_query_numbers
    from casey_flows.exceptions import ContactSourceError

    slow = ContactsQuery(
        query="SELECT CAST(sum(i * i % 7) AS TEXT) AS phone_number FROM range(100000000000) t(i)",
        timeout_seconds=1,
    )
    with pytest.raises(ContactSourceError, match="did not answer"):
        asyncio.run(read_query_numbers(slow))
    deadline = time.monotonic() + 10
    with open(pipelines_dir() / "casey_calls.lock", "w") as lock:
        while True:  # the interrupted query's thread lets go of the lock
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the lock was never released"
                time.sleep(0.1)
