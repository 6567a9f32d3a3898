"""The ``sync_calls`` flow on a real Prefect server: DuckDB and PostgreSQL, what the run
publishes, and how it fails when the warehouse is not usable (fast, and nothing half-written)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.states import State

from casey_flows.campaign.outcomes import Outcome
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse.destination import default_duckdb_path, one_writer, pipelines_dir
from casey_flows.warehouse.report import join_query
from tests.warehouse.conftest import numbers, place_calls, reads, wait_until_ended

PG_URL = os.environ.get("CASEY_FLOWS_TEST_PG_URL")


def run_sync(sandbox: EmbeddedSandbox, credentials_block: str, **params: Any) -> State:
    from casey_flows.flows.sync import sync_calls

    params.setdefault("list_lag_seconds", 1.0)
    return asyncio.run(
        sync_calls(  # type: ignore[func-returns-value]
            [sandbox.call_out_connection],
            credentials_block=credentials_block,
            return_state=True,
            **params,
        )
    )


def duckdb_rows(sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(default_duckdb_path()), read_only=True) as db:
        return db.execute(sql).fetchall()


def test_sync_loads_duckdb_and_publishes_a_report(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, warehouse: Path
) -> None:
    calls = place_calls(clean_sandbox, numbers(6))
    wait_until_ended(clean_sandbox, calls)

    state = run_sync(clean_sandbox, credentials_block)

    assert state.is_completed(), state.message
    summary = state.result()
    assert summary.rows["calls"] == 6
    assert "appointment_confirmed" in summary.new_columns["conversation_answers"]
    assert duckdb_rows("SELECT count(*) FROM casey.calls") == [(6,)]
    artifact = _artifact("casey-sync-casey-calls", state)
    assert "| `calls` | 6 |" in artifact and "LEFT JOIN casey.conversation_answers" in artifact
    by_outcome = duckdb_rows(join_query("casey"))  # the report's query, as shown, runs
    assert sum(n for *_, n in by_outcome) == 6
    assert {outcome for _, outcome, _, _ in by_outcome} <= {o.value for o in Outcome}

    again = run_sync(clean_sandbox, credentials_block)
    assert again.result().rows == {}
    assert duckdb_rows("SELECT count(*), count(DISTINCT id) FROM casey.calls") == [(6, 6)]


def _artifact(key: str, state: State) -> str:
    """The artifact ``key`` as the run behind ``state`` published it."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    async def read() -> str:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                )
            )
            return str(found[0].data)

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"destination": "nosuch"}, "destination 'nosuch' is not a dlt destination"),
        (
            {"destination": "postgres", "destination_credentials_block": "no-such-secret"},
            "no Prefect Secret block named 'no-such-secret'",
        ),
        (
            {"destination": "postgres", "destination_credentials_block": "dead-postgres"},
            "cannot reach the postgres destination",
        ),
    ],
    ids=["unknown-destination", "missing-credentials-block", "unreachable-database"],
)
def test_an_unusable_warehouse_fails_fast_and_writes_nothing(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    warehouse: Path,
    params: dict[str, Any],
    expected: str,
) -> None:
    from prefect.blocks.system import Secret

    Secret(value="postgresql://nobody:secret@127.0.0.1:9/nowhere").save(
        "dead-postgres", overwrite=True
    )
    started = time.monotonic()

    state = run_sync(clean_sandbox, credentials_block, **params)

    assert state.is_failed()
    assert expected in state.message
    assert "secret@" not in state.message  # the destination's password never shows
    assert time.monotonic() - started < 30
    assert reads(clean_sandbox, "/calls") == 0  # failed before reading a single call
    assert not list(pipelines_dir().glob("*/normalized/*"))  # no half-loaded package left


def test_two_syncs_at_once_run_one_after_the_other(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, warehouse: Path
) -> None:
    calls = place_calls(clean_sandbox, numbers(3))
    wait_until_ended(clean_sandbox, calls)
    outcome: list[State] = []
    listed = reads(clean_sandbox, "/calls")
    with one_writer("casey_calls"):  # another sync holds the pipeline
        worker = threading.Thread(
            target=lambda: outcome.append(run_sync(clean_sandbox, credentials_block))
        )
        worker.start()
        worker.join(timeout=4)
        assert worker.is_alive()  # waiting its turn
        assert reads(clean_sandbox, "/calls") == listed  # it has not started reading
    worker.join(timeout=60)
    assert outcome and outcome[0].is_completed()
    assert duckdb_rows("SELECT count(*) FROM casey.calls") == [(3,)]


@pytest.mark.skipif(not PG_URL, reason="CASEY_FLOWS_TEST_PG_URL not set (CI sets it)")
def test_sync_into_postgres_merges_on_re_run(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, warehouse: Path
) -> None:
    import psycopg2
    from prefect.blocks.system import Secret

    url = str(PG_URL).replace("+asyncpg", "")
    Secret(value=url).save("test-warehouse-pg", overwrite=True)
    dataset = f"casey_{os.getpid()}"
    calls = place_calls(clean_sandbox, numbers(5))
    wait_until_ended(clean_sandbox, calls)
    params = {
        "destination": "postgres",
        "destination_credentials_block": "test-warehouse-pg",
        "dataset_name": dataset,
        "pipeline_name": "casey_pg",
    }

    first = run_sync(clean_sandbox, credentials_block, **params)
    late = place_calls(clean_sandbox, numbers(2, start=70), campaign="late")
    wait_until_ended(clean_sandbox, late)
    second = run_sync(clean_sandbox, credentials_block, **params)

    assert first.is_completed(), first.message
    assert second.is_completed(), second.message
    with psycopg2.connect(url) as db, db.cursor() as cursor:
        cursor.execute(f"SELECT count(*), count(DISTINCT id) FROM {dataset}.calls")
        assert cursor.fetchone() == (7, 7)
        cursor.execute(
            f"SELECT count(*) FROM {dataset}.conversation_answers a "
            f"JOIN {dataset}.calls c ON a.conversation_id = c.conversation_id"
        )
        assert cursor.fetchone()[0] > 0
        cursor.execute(f"DROP SCHEMA {dataset} CASCADE")
