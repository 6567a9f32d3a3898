"""kill -9 in the middle of a load, then run again: every row lands exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse import casey_source
from casey_flows.warehouse.pipeline import make_pipeline, run_source
from tests.warehouse.conftest import numbers, place_calls, wait_until_ended

ROOT = Path(__file__).resolve().parents[2]


def test_a_load_killed_midway_completes_on_the_next_run_without_duplicates(
    clean_sandbox: EmbeddedSandbox, warehouse: Path
) -> None:
    calls = place_calls(clean_sandbox, numbers(10))
    wait_until_ended(clean_sandbox, calls)
    args = [clean_sandbox.base_url, clean_sandbox.api_key, clean_sandbox.call_out_connection]
    killed = subprocess.run(
        [sys.executable, "-m", "tests.warehouse.load_then_die", *args, "casey_crash"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    pipeline = make_pipeline("casey_crash", "duckdb", "casey")
    assert pipeline.list_normalized_load_packages()  # the killed load is still pending

    more = place_calls(clean_sandbox, numbers(4, start=40), campaign="after-crash")
    wait_until_ended(clean_sandbox, more)
    source = casey_source(
        [clean_sandbox.call_out_connection],
        api_key=clean_sandbox.api_key,
        base_url=clean_sandbox.base_url,
    )
    run_source(pipeline, source)  # finishes the pending package, then loads the new calls

    with pipeline.sql_client() as client:
        calls_rows = client.execute_sql("SELECT count(*), count(DISTINCT id) FROM casey.calls")
        conv = client.execute_sql("SELECT count(*), count(DISTINCT id) FROM casey.conversations")
        fields = client.execute_sql(
            "SELECT count(*), count(DISTINCT (conversation_id, field_id)) "
            "FROM casey.conversation_fields"
        )
        messages = client.execute_sql(
            "SELECT count(*), count(DISTINCT (conversation_id, seq)) FROM casey.transcript_messages"
        )
    assert tuple(calls_rows[0]) == (14, 14)
    assert conv[0][0] == conv[0][1] > 0
    assert fields[0][0] == fields[0][1] > 0
    assert messages[0][0] == messages[0][1] > 0
    assert not pipeline.list_normalized_load_packages()
