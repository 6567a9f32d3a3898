"""``call_campaign(contacts_query=ContactsQuery(...))`` through saved SqlAlchemyConnector blocks:
PostgreSQL (CI starts it: tests/deployments/start_postgres.sh) and SQLite files.

Every failure is checked to happen before anyone is dialled (the sandbox counts creates) and to
say what to fix without a password or a connection string.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from casey_flows import ContactsQuery, campaign_status
from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.query import read_query_numbers
from casey_flows.exceptions import ContactSourceError
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.flows.test_campaign import numbers, run_campaign

pytestmark = pytest.mark.usefixtures("prefect_server")

PG_URL = os.environ.get("CASEY_FLOWS_TEST_PG_URL")
PASSWORD = "s3cret-pw"  # in the blocks' connection URLs; never in a message


def save_block(name: str, url: str, **fields: Any) -> str:
    from prefect_sqlalchemy import SqlAlchemyConnector

    SqlAlchemyConnector(connection_info=url, **fields).save(name, overwrite=True)
    return f"sqlalchemy-connector/{name}"


def assert_failed_before_dialling(state: Any, sandbox: EmbeddedSandbox, *expected: str) -> str:
    assert state.is_failed(), state.message
    message = str(state.message)
    for words in expected:
        assert words in message
    assert "://" not in message  # no connection URL, hence no password
    assert PASSWORD not in message
    stats = sandbox.admin.stats()
    assert stats["creates_total"] == 0
    assert stats["calls_by_phone"] == {}
    return message


# -- the table: six people, four in segment "a" (the third of those has no '+') ---------------

SELECTED = numbers(3, start=1200)
NOT_PLUS = "2025551203"
OTHERS = numbers(2, start=1300)
ROWS: list[tuple[str, str, str, str]] = [
    (SELECTED[0], "Ada", "Ada", "a"),
    (OTHERS[0], "Bob", "Bob", "b"),
    (SELECTED[1], "Cy", "Cy", "a"),
    (NOT_PLUS, "Di", "Di", "a"),
    (OTHERS[1], "Ed", "Ed", "b"),
    (SELECTED[2], "Flo", "Flo", "a"),
]


@pytest.fixture(scope="module")
def postgres(postgres: tuple[str, str]) -> tuple[str, str]:
    """The module's PostgreSQL schema, with the contacts table."""
    import psycopg2

    url, schema = postgres
    with psycopg2.connect(url.replace("+psycopg2", "")) as db, db.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {schema}.contacts (id serial PRIMARY KEY, phone_number text, "
            "name text, first_name text, segment text)"
        )
        cursor.executemany(
            f"INSERT INTO {schema}.contacts (phone_number, name, first_name, segment) "
            "VALUES (%s, %s, %s, %s)",
            ROWS,
        )
    return postgres


SEGMENT_QUERY = (
    'SELECT phone_number, name, first_name AS "context.first_name" FROM {table} '
    "WHERE segment = :segment ORDER BY id"
)


@pytest.fixture
def sqlite_block(tmp_path: Path) -> str:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, phone_number TEXT, name TEXT, "
            "first_name TEXT, segment TEXT, phone_int INTEGER)"
        )
        db.executemany(
            "INSERT INTO contacts (phone_number, name, first_name, segment, phone_int) "
            "VALUES (?, ?, ?, ?, ?)",
            [(*row, int(row[0].lstrip("+"))) for row in ROWS],
        )
    return save_block("crm-sqlite", f"sqlite+pysqlite:///{path}")


@pytest.fixture
def pg_block(postgres: tuple[str, str]) -> tuple[str, str]:
    url, schema = postgres
    return save_block("crm-pg", url), schema


def assert_dialled_the_selected_rows_once(state: Any, sandbox: EmbeddedSandbox) -> None:
    assert state.is_completed(), state.message
    result = state.result()
    assert sandbox.admin.stats()["calls_by_phone"] == dict.fromkeys(SELECTED, 1)
    (rejected,) = result.by_outcome(Outcome.REJECTED)
    assert rejected.row == 3  # the third row of the result, not of the table
    assert "no leading '+'" in rejected.reason
    dialled = {o.phone_number for o in result.outcomes if o.attempts}
    assert len(dialled) == 3


def test_a_campaign_from_postgres_dials_exactly_the_selected_rows_once(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    pg_block: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    block, schema = pg_block
    query = ContactsQuery(
        block=block,
        query=SEGMENT_QUERY.format(table=f"{schema}.contacts"),
        parameters={"segment": "a"},
    )
    with caplog.at_level(logging.INFO):
        state = run_campaign(
            clean_sandbox, credentials_block, contacts_query=query, campaign_id="pg-query"
        )
    assert_dialled_the_selected_rows_once(state, clean_sandbox)
    assert f"contacts query: read 4 rows from block {block}" in caplog.text


def test_a_campaign_from_sqlite_dials_exactly_the_selected_rows_once_with_other_sources(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    sqlite_block: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    extra = numbers(1, start=1400)
    with caplog.at_level(logging.INFO):
        state = run_campaign(
            clean_sandbox,
            credentials_block,
            contacts=[{"phone_number": extra[0]}, {"phone_number": SELECTED[0]}],  # also selected
            contacts_query={
                "block": sqlite_block,
                "query": SEGMENT_QUERY.format(table="contacts"),
                "parameters": {"segment": "a"},
            },
            campaign_id="sqlite-query",
        )
    assert state.is_completed(), state.message
    assert f"contacts query: read 4 rows from block {sqlite_block}" in caplog.text
    assert clean_sandbox.admin.stats()["calls_by_phone"] == dict.fromkeys([*SELECTED, *extra], 1)
    assert state.result().duplicates == 1
    by_phone = {o.phone_number: o for o in state.result().outcomes if o.attempts}
    assert len(by_phone) == 4

    # campaign_status takes the same query: the selected rows, against the call list.
    status = asyncio.run(
        campaign_status(  # type: ignore[func-returns-value]
            campaign_id="sqlite-query",
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            contacts_query=ContactsQuery(
                block=sqlite_block,
                query=SEGMENT_QUERY.format(table="contacts"),
                parameters={"segment": "a"},
            ),
            return_state=True,
        )
    )
    assert status.is_completed(), status.message
    report = status.result()
    assert [o.row for o in report.by_outcome(Outcome.REJECTED)] == [3]
    assert {o.phone_number for o in report.outcomes if o.attempts} == set(by_phone)


def test_a_result_larger_than_a_page_is_read_whole_from_postgres(
    pg_block: tuple[str, str],
) -> None:
    block, _ = pg_block
    query = ContactsQuery(
        block=block,
        query="SELECT '+1202555' || lpad(g::text, 4, '0') AS phone_number "
        "FROM generate_series(1, 2345) AS g ORDER BY g",
    )
    found = asyncio.run(read_query_numbers(query))
    assert found == [f"+1202555{g:04d}" for g in range(1, 2346)]


def test_a_bad_query_fails_before_dialling_with_the_drivers_first_line(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, sqlite_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(block=sqlite_block, query="SELECT * FROM no_such_table"),
    )
    message = assert_failed_before_dialling(
        state, clean_sandbox, "no such table: no_such_table", "fix the query"
    )
    assert "[SQL:" not in message  # SQLAlchemy's later lines (statement, parameters) are cut


def test_a_result_without_phone_number_fails_before_dialling_and_lists_its_columns(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, sqlite_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(
            block=sqlite_block, query="SELECT name, segment FROM contacts"
        ),
    )
    assert_failed_before_dialling(
        state, clean_sandbox, "no phone_number column (columns found: 'name', 'segment')"
    )


def test_a_missing_block_fails_before_dialling_and_says_how_to_create_it(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(block="sqlalchemy-connector/nowhere", query="SELECT 1"),
    )
    assert_failed_before_dialling(
        state, clean_sandbox, "no Prefect block 'sqlalchemy-connector/nowhere'", ".save('nowhere')"
    )


def test_a_database_that_does_not_answer_fails_before_dialling_without_its_password(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    closed = save_block("crm-closed", f"postgresql+psycopg2://app:{PASSWORD}@127.0.0.1:9/crm")
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(block=closed, query="SELECT phone_number FROM contacts"),
    )
    assert_failed_before_dialling(
        state, clean_sandbox, "could not connect to the database", "Connection refused"
    )


def test_a_query_slower_than_its_timeout_fails_before_dialling(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, pg_block: tuple[str, str]
) -> None:
    block, _ = pg_block
    started = time.monotonic()
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(
            block=block,
            query="SELECT '+12025550100' AS phone_number FROM pg_sleep(4)",
            timeout_seconds=1,
        ),
    )
    assert_failed_before_dialling(
        state, clean_sandbox, "did not answer with the whole result within 1 s (timeout_seconds)"
    )
    assert time.monotonic() - started < 15


def test_an_integer_phone_column_gets_the_cast_hint_and_its_rows_are_rejected(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, sqlite_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_query=ContactsQuery(
            block=sqlite_block, query="SELECT phone_int AS phone_number FROM contacts ORDER BY id"
        ),
    )
    assert state.is_completed(), state.message
    result = state.result()
    assert any("'+' || CAST(phone AS TEXT)" in w for w in result.warnings)
    assert [o.row for o in result.by_outcome(Outcome.REJECTED)] == [1, 2, 3, 4, 5, 6]
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {}


def test_read_query_numbers_raises_the_same_errors() -> None:
    with pytest.raises(ContactSourceError, match="no Prefect block"):
        asyncio.run(
            read_query_numbers(ContactsQuery(block="sqlalchemy-connector/nowhere", query="x"))
        )
