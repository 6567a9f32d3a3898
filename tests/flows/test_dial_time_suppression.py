"""Suppression checked at dial time: the list is re-read while the campaign runs, and a number
listed at least one refresh before its turn is never dialled; a list that cannot be re-read
pauses dialling, and past its maximum staleness the run fails closed.

One contact at a time, calls of a fixed 0.6 s (60 s simulated at speed 100), so the test knows
which contacts are still to come when it edits the do-not-call file.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from casey_flows.blocks import CaseyCredentials
from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox
from casey_flows.sandbox.testing import wait_for
from tests.flows.test_campaign_query import save_block

pytestmark = pytest.mark.usefixtures("prefect_server")

BLOCK = "casey-test-dial-time"
ALWAYS_OPEN = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
CONTACTS = [f"+1202555{n:04d}" for n in range(2100, 2108)]  # valid, no magic suffixes
LAST = CONTACTS[-1]


@pytest.fixture(scope="module")
def serial_sandbox(prefect_server: None) -> Iterator[EmbeddedSandbox]:
    with running_sandbox(
        seed=11,
        speed=100.0,
        ring_time_s=0.0,
        call_duration_distribution="fixed",
        call_duration_mean_s=60.0,
        outcome_weights={"completed": 1.0},
    ) as sandbox:
        CaseyCredentials(api_key=sandbox.api_key, base_url=sandbox.base_url).save(
            BLOCK, overwrite=True
        )
        yield sandbox


def dialled(sandbox: EmbeddedSandbox) -> dict[str, int]:
    return dict(sandbox.admin.stats()["calls_by_phone"])


def campaign(
    sandbox: EmbeddedSandbox,
    dnc: Path | None,
    campaign_id: str,
    *,
    max_stale_seconds: float = 30.0,
    query: dict[str, Any] | None = None,
) -> Any:
    return asyncio.run(
        call_campaign(
            connection_code=sandbox.call_out_connection,
            contacts=[{"phone_number": n} for n in CONTACTS],
            campaign_id=campaign_id,
            credentials_block=BLOCK,
            calling_window=ALWAYS_OPEN,
            suppression={
                "file": str(dnc) if dnc else None,
                "query": query,
                "refresh_seconds": 1.0,
                "max_stale_seconds": max_stale_seconds,
            },
            limits={"max_concurrent_calls": 1, "poll_interval_seconds": 0.1},
            exports={"call_events": "none"},
            safety={"redial_after_seconds": 2.0},
            return_state=True,
        )
    )


def after_first_dial(sandbox: EmbeddedSandbox, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` from another thread once the campaign's first create has landed."""

    def watch() -> None:
        wait_for(lambda: dialled(sandbox), timeout=60)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def assert_only_the_last_was_not_dialled(state: Any, sandbox: EmbeddedSandbox, source: str) -> None:
    """Everyone but LAST dialled once; LAST never, suppressed at dial time by ``source``."""
    assert state.is_completed(), state.message
    last = next(o for o in state.result().outcomes if o.phone_number == LAST)
    assert dialled(sandbox) == dict.fromkeys(CONTACTS[:-1], 1)
    assert last.outcome == "suppressed"
    assert last.reason.startswith(f"suppressed at dial time: on {source} (seen ")
    assert LAST not in last.reason  # the reason names the source, never the number


def test_a_number_listed_mid_campaign_is_never_dialled(
    serial_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    sandbox = serial_sandbox.clean()
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+12025559999\n")
    # 7 contacts of ~0.7 s each stand before the last one: several refreshes of 1 s.
    editor = after_first_dial(sandbox, lambda: dnc.write_text(f"+12025559999\n{LAST}\n"))
    state = campaign(sandbox, dnc, "dial-time-gate")
    editor.join()
    assert_only_the_last_was_not_dialled(state, sandbox, source="dnc.txt")


def test_a_list_that_cannot_be_reread_pauses_dialling_then_fails_closed(
    serial_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    sandbox = serial_sandbox.clean()
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+12025559999\n")
    remover = after_first_dial(sandbox, dnc.unlink)
    state = campaign(sandbox, dnc, "dial-time-stale", max_stale_seconds=3.0)
    remover.join()
    assert state.is_failed()
    assert "could not be re-read" in state.message and "max_stale_seconds" in state.message
    # Dialling stopped at the first failed refresh (a second after the file went), not at
    # the end of the list.
    assert 1 <= len(dialled(sandbox)) <= 3


def test_a_refresh_that_recovers_resumes_dialling(
    serial_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    sandbox = serial_sandbox.clean()
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+12025559999\n")
    during_outage: list[int] = []  # calls placed, read twice while the file is gone

    def outage() -> None:
        dnc.unlink()
        threading.Event().wait(2.5)  # two failed refreshes: dialling paused
        during_outage.append(len(dialled(sandbox)))
        threading.Event().wait(1.5)
        during_outage.append(len(dialled(sandbox)))
        dnc.write_text("+12025559999\n")

    thread = after_first_dial(sandbox, outage)
    state = campaign(sandbox, dnc, "dial-time-recover", max_stale_seconds=20.0)
    thread.join()
    assert state.is_completed(), state.message
    paused, still_paused = during_outage
    assert paused == still_paused < len(CONTACTS), "dialled while the list was unreadable"
    assert dialled(sandbox) == dict.fromkeys(CONTACTS, 1)


def test_an_opt_out_inserted_into_the_do_not_call_table_mid_campaign_is_never_dialled(
    serial_sandbox: EmbeddedSandbox, postgres: tuple[str, str]
) -> None:
    """The do-not-call list is a PostgreSQL table read through a saved SqlAlchemyConnector
    block; a row inserted while the campaign runs, a refresh before that contact's turn."""
    import psycopg2

    url, schema = postgres
    plain_url = url.replace("+psycopg2", "")
    with psycopg2.connect(plain_url) as db, db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {schema}.do_not_call (phone_number text)")
        cursor.execute(f"INSERT INTO {schema}.do_not_call VALUES ('+12025559999')")
    block = save_block("dnc-postgres", url)

    def opt_out() -> None:
        with psycopg2.connect(plain_url) as db, db.cursor() as cursor:
            cursor.execute(f"INSERT INTO {schema}.do_not_call VALUES (%s)", (LAST,))

    sandbox = serial_sandbox.clean()
    inserter = after_first_dial(sandbox, opt_out)
    query = {"block": block, "query": f"SELECT phone_number FROM {schema}.do_not_call"}
    state = campaign(sandbox, None, "dial-time-query", query=query)
    inserter.join()
    assert_only_the_last_was_not_dialled(state, sandbox, source="the do-not-call query")
