"""call_report against the sandbox, through a real Prefect server."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client

from casey_flows.client import mask_phone
from casey_flows.flows.report import call_report, report_artifact_key
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.sandbox.testing import wait_for_terminal

pytestmark = pytest.mark.usefixtures("prefect_server")

NUMBERS = ["+12025550100", "+12025550486", "+12025550408", "+12025550555"]


def place(sandbox: EmbeddedSandbox, numbers: list[str]) -> list[str]:
    """Create calls straight over HTTP and wait until each has ended."""
    ids: list[str] = []
    with httpx.Client(base_url=sandbox.base_url, headers=sandbox.headers, timeout=10) as http:
        for phone in numbers:
            created = http.post(sandbox.calls_path(), json={"phone_number": phone})
            created.raise_for_status()
            ids.append(created.json()["data"]["id"])
        for call_id in ids:
            wait_for_terminal(http, sandbox.calls_path(), call_id, timeout=20)
    return ids


def test_report_lists_calls_masks_the_artifact_and_writes_csv(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    ids = place(clean_sandbox, NUMBERS)
    out = tmp_path / "nested" / "calls.csv"
    state = asyncio.run(
        call_report(
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            csv_path=str(out),
            full_numbers=True,
            return_state=True,
        )
    )
    assert state.is_completed(), state.message
    rows = state.result()
    assert {r.call_id for r in rows} == set(ids)
    assert all(r.phone_number.startswith("+1•••••") for r in rows)
    with out.open(newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert sorted(r["phone_number"] for r in exported) == sorted(NUMBERS)
    assert {r["status"] for r in exported} == {"completed", "busy", "no_answer"}

    async def artifact_text() -> tuple[str, str | None]:
        async with get_client() as client:
            artifact = await client.read_latest_artifacts()
            mine = [
                a
                for a in artifact
                if a.key == report_artifact_key(clean_sandbox.call_out_connection)
            ]
            assert mine, "no report artifact"
            return str(mine[0].data), mine[0].description

    data, description = asyncio.run(artifact_text())
    shown = sorted(row["phone_number"] for row in json.loads(data))
    assert shown == sorted(mask_phone(n) for n in NUMBERS)
    assert not any(n in data or n[1:] in data for n in NUMBERS)
    assert description and "4 calls" in description


def test_csv_is_masked_by_default_and_status_filters(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    place(clean_sandbox, NUMBERS)
    out = tmp_path / "busy.csv"
    rows = asyncio.run(
        call_report(
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            status="Busy",
            csv_path=str(out),
        )
    )
    assert [r.status for r in rows] == ["busy"]
    text = out.read_text()
    assert "+1•••••0486" in text and "+12025550486" not in text


def test_since_stops_at_older_calls(clean_sandbox: EmbeddedSandbox, credentials_block: str) -> None:
    place(clean_sandbox, NUMBERS[:2])
    time.sleep(0.05)
    cut = datetime.now(timezone.utc)
    newer = place(clean_sandbox, NUMBERS[2:])
    rows = asyncio.run(
        call_report(
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            since=cut,
        )
    )
    assert {r.call_id for r in rows} == set(newer)
    capped = asyncio.run(
        call_report(
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            max_calls=3,
        )
    )
    assert len(capped) == 3


def test_last_hours_keeps_only_recent_calls(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    place(clean_sandbox, NUMBERS[:2])
    time.sleep(4.0)  # the older calls are 4 s or more older than the cut
    cut = time.monotonic()
    newer = place(clean_sandbox, NUMBERS[2:])
    # Reaches back 3 s before the cut, less however long the flow takes to start (well under).
    window_s = time.monotonic() - cut + 3.0
    rows = asyncio.run(
        call_report(
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            last_hours=window_s / 3600,
        )
    )
    assert {r.call_id for r in rows} == set(newer)


def test_artifact_key_is_prefect_safe() -> None:
    assert report_artifact_key("Demo_Outbound.EU") == "casey-call-report-demo-outbound-eu"
    assert report_artifact_key("!!!") == "casey-call-report-unnamed"
