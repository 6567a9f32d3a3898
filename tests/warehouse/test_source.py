"""``casey_source`` in a real dlt pipeline: the session sandbox over HTTP into a DuckDB file.

No Prefect here: this is the source a team uses in its own dlt pipelines.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

import dlt
import pytest

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.outcome_log import OutcomeLog
from casey_flows.campaign.outcomes import Outcome
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse import casey_source
from casey_flows.warehouse.pipeline import make_pipeline
from tests.campaign.engine_runner import run_engine
from tests.warehouse.conftest import numbers, place_calls, reads, wait_until_ended

TABLES = ("calls", "conversations", "conversation_fields", "conversation_answers")


def pipeline(name: str = "casey_test") -> dlt.Pipeline:
    return make_pipeline(name, "duckdb", "casey")


def sync(sandbox: EmbeddedSandbox, pipe: dlt.Pipeline, **options: Any) -> dict[str, int]:
    """Run one sync; rows loaded per table (dlt's internal tables left out)."""
    options.setdefault("list_lag_seconds", 1.0)
    pipe.run(
        casey_source(
            [sandbox.call_out_connection],
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            **options,
        )
    )
    counts = pipe.last_trace.last_normalize_info.row_counts
    return {t: n for t, n in counts.items() if not t.startswith("_dlt")}


def query(pipe: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipe.sql_client() as client:
        return [tuple(r) for r in client.execute_sql(sql) or []]


def table_counts(pipe: dlt.Pipeline) -> dict[str, int]:
    return {t: query(pipe, f"SELECT count(*) FROM casey.{t}")[0][0] for t in TABLES}


def test_first_sync_loads_calls_and_what_was_said(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    calls = place_calls(clean_sandbox, numbers(12))
    wait_until_ended(clean_sandbox, calls)
    pipe = pipeline()
    loaded = sync(clean_sandbox, pipe)

    assert loaded["calls"] == 12
    rows = query(pipe, "SELECT count(*), count(conversation_id) FROM casey.calls")
    total, connected = rows[0]
    assert total == 12 and connected > 0
    assert loaded["conversations"] == connected
    assert query(pipe, "SELECT DISTINCT campaign_id FROM casey.calls") == [("spring",)]
    # One answer row per completed conversation (an abandoned one has none), a column per field.
    answers = query(
        pipe,
        "SELECT count(*) FROM casey.conversation_answers a JOIN casey.calls c "
        "ON a.conversation_id = c.conversation_id WHERE a.appointment_confirmed IN ('yes', 'no')",
    )
    completed = query(pipe, "SELECT count(*) FROM casey.conversations WHERE status = 'completed'")
    assert answers == completed and completed[0][0] > 0
    assert loaded["conversation_fields"] >= completed[0][0] * 2
    assert loaded["transcript_messages"] >= connected * 3
    seqs = query(
        pipe,
        "SELECT conversation_id, min(seq), max(seq), count(*) FROM casey.transcript_messages "
        "GROUP BY 1",
    )
    assert all(lo == 0 and hi == n - 1 for _, lo, hi, n in seqs)
    assert (Path(warehouse) / "warehouse.duckdb").is_file()


def test_a_second_sync_with_nothing_new_reads_list_pages_only(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    calls = place_calls(clean_sandbox, numbers(8))
    wait_until_ended(clean_sandbox, calls)
    pipe = pipeline()
    sync(clean_sandbox, pipe)
    before = table_counts(pipe)
    conversation_reads = reads(clean_sandbox, "/conversations")
    by_id = reads(clean_sandbox, "/calls/{")

    loaded = sync(clean_sandbox, pipe)

    assert loaded == {}  # nothing final is loaded twice
    assert reads(clean_sandbox, "/conversations") == conversation_reads  # none re-read
    assert reads(clean_sandbox, "/calls/{") == by_id  # no final call re-read
    assert table_counts(pipe) == before


def test_statuses_that_change_update_rows_and_add_none(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    done = place_calls(clean_sandbox, numbers(4))
    wait_until_ended(clean_sandbox, done)
    later = place_calls(clean_sandbox, numbers(4, start=100), campaign="later", start_in_seconds=3)
    pipe = pipeline()
    sync(clean_sandbox, pipe)
    assert query(pipe, "SELECT count(*) FROM casey.calls WHERE NOT is_final") == [(4,)]
    assert query(pipe, "SELECT count(*) FROM casey.conversations") == [(4 - _unconnected(pipe),)]
    open_outcomes = "SELECT count(outcome) FROM casey.calls WHERE NOT is_final"
    assert query(pipe, open_outcomes) == [(0,)]  # null while open

    wait_until_ended(clean_sandbox, later)
    loaded = sync(clean_sandbox, pipe)

    assert loaded["calls"] == 4  # the four that were open, re-read; nothing else
    assert query(pipe, "SELECT count(*), count(DISTINCT id) FROM casey.calls") == [(8, 8)]
    assert query(pipe, "SELECT count(*) FROM casey.calls WHERE NOT is_final") == [(0,)]
    assert query(pipe, "SELECT count(outcome) FROM casey.calls") == [(8,)]  # set once final
    still_scheduled = "SELECT count(*) FROM casey.calls WHERE status = 'scheduled'"
    assert query(pipe, still_scheduled) == [(0,)]
    conversations = query(pipe, "SELECT count(*), count(DISTINCT id) FROM casey.conversations")
    assert conversations[0][0] == conversations[0][1]


@pytest.mark.timeout(90)
def test_calls_outcome_is_the_campaign_csvs_and_retry_outcomes_vocabulary(
    clean_sandbox: EmbeddedSandbox, warehouse: Path, tmp_path: Path
) -> None:
    # The sandbox's magic numbers always end the same way.
    expected = {
        "+12025550100": "completed",
        "+12025550486": "busy",
        "+12025550408": "no_answer",
        "+12025550555": "voicemail",
        "+12025550500": "failed",
    }
    phones = list(expected)
    retry = frozenset({"No Answer", "busy"})  # as a person may write them
    tracks = run_engine(
        clean_sandbox,
        [Contact(phone_number=p) for p in phones],
        campaign_id="vocabulary",
        retry_outcomes=retry,
        max_attempts=2,
        retry_delay_seconds=0,
    )
    with OutcomeLog(tmp_path / "outcomes.csv", full_numbers=True) as log:
        log.extend(t.outcome for t in tracks if t.outcome is not None)
    with log.path.open(newline="", encoding="utf-8") as handle:
        exported = {r["phone_number"]: r for r in csv.DictReader(handle)}
    pipe = pipeline()
    sync(clean_sandbox, pipe)
    in_warehouse = dict(query(pipe, "SELECT id, outcome FROM casey.calls"))

    values = {o.value for o in Outcome}
    by_csv = {p: r["outcome"] for p, r in exported.items()}
    assert by_csv == expected
    retried = {p for p, r in exported.items() if r["attempts"] == "2"}
    assert retried == {"+12025550486", "+12025550408"}  # "No Answer" matched no_answer
    assert {by_csv[p] for p in retried} == {"busy", "no_answer"} <= values
    for phone, row in exported.items():
        call_ids = row["call_ids"].split()
        assert [in_warehouse[c] for c in call_ids] == [row["outcome"]] * len(call_ids), phone
    assert set(in_warehouse.values()) <= values
    # The line type in the warehouse is the one in the campaign's CSV: from the same number.
    line_types = dict(query(pipe, "SELECT phone_number, line_type FROM casey.calls"))
    assert line_types == {p: r["line_type"] for p, r in exported.items()}
    assert set(line_types.values()) == {"fixed_line_or_mobile"}


def _unconnected(pipe: dlt.Pipeline) -> int:
    sql = "SELECT count(*) FROM casey.calls WHERE is_final AND conversation_id IS NULL"
    return query(pipe, sql)[0][0]


def test_a_call_that_shows_in_the_list_late_is_still_loaded(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    first = place_calls(clean_sandbox, numbers(3))
    wait_until_ended(clean_sandbox, first)
    pipe = pipeline()
    time.sleep(1.1)  # the first three are older than the lag below: listed
    clean_sandbox.admin.set_list_lag(1.0)
    late = place_calls(clean_sandbox, numbers(3, start=50), campaign="late")
    sync(clean_sandbox, pipe, list_lag_seconds=10)  # the three new calls are not listed yet
    assert query(pipe, "SELECT count(*) FROM casey.calls") == [(3,)]

    time.sleep(1.1)
    clean_sandbox.admin.set_list_lag(0.0)
    wait_until_ended(clean_sandbox, late)
    sync(clean_sandbox, pipe, list_lag_seconds=10)

    assert query(pipe, "SELECT count(*), count(DISTINCT id) FROM casey.calls") == [(6, 6)]


def test_a_new_field_mid_run_becomes_a_new_column(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    first = place_calls(clean_sandbox, numbers(4))
    wait_until_ended(clean_sandbox, first)
    pipe = pipeline()
    sync(clean_sandbox, pipe)
    clean_sandbox.admin.add_field_definition(
        clean_sandbox.call_out_connection, "callback_ok", ["yes", "no"]
    )
    second = place_calls(clean_sandbox, numbers(6, start=20), campaign="second")
    wait_until_ended(clean_sandbox, second)

    info_before = pipe.default_schema.get_table_columns("conversation_answers")
    assert "callback_ok" not in info_before
    sync(clean_sandbox, pipe)

    assert "callback_ok" in pipe.default_schema.get_table_columns("conversation_answers")
    values = query(pipe, "SELECT DISTINCT callback_ok FROM casey.conversation_answers")
    assert {v for (v,) in values} <= {None, "yes", "no"}
    assert any(v is not None for (v,) in values)


def test_a_conversation_that_answers_404_leaves_the_call_without_fields(
    clean_sandbox: EmbeddedSandbox, warehouse: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = place_calls(clean_sandbox, numbers(6))
    wait_until_ended(clean_sandbox, calls)
    pipe = pipeline()
    connected = [c for c in _calls_now(clean_sandbox) if c.conversation_id]
    gone = connected[0]
    clean_sandbox.admin.forget_conversation(gone.conversation_id)

    with caplog.at_level(logging.WARNING, logger="casey_flows.warehouse"):
        loaded = sync(clean_sandbox, pipe)

    assert loaded["calls"] == 6
    assert loaded["conversations"] == len(connected) - 1
    assert query(
        pipe, f"SELECT count(*) FROM casey.conversation_fields WHERE call_id = '{gone.id}'"
    ) == [(0,)]
    assert query(pipe, f"SELECT conversation_id FROM casey.calls WHERE id = '{gone.id}'") == [
        (gone.conversation_id,)
    ]
    assert any(
        "404" in r.getMessage() and gone.conversation_id in r.getMessage() for r in caplog.records
    )


def _calls_now(sandbox: EmbeddedSandbox) -> list[Any]:
    from casey_flows.client import CaseyClient

    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        return list(client.iter_calls(sandbox.call_out_connection))


def test_opted_out_numbers_land_in_opt_outs_per_connection(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    opt_out = "+14159900042"  # the sandbox's magic answer: digits 5-7 from the end, 990
    calls = place_calls(clean_sandbox, [opt_out, *numbers(3, start=400)])
    wait_until_ended(clean_sandbox, calls)
    pipe = pipeline()
    sync(clean_sandbox, pipe)

    rows = query(pipe, "SELECT connection_code, phone_number FROM casey.opt_outs")
    assert (clean_sandbox.call_out_connection, opt_out) in rows
