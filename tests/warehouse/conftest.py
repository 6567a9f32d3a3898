"""A warehouse of its own per test (DuckDB file and dlt state under tmp_path), and helpers to
place calls on the session sandbox and wait for them to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from casey_flows.client import Call, CaseyClient
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse.destination import WAREHOUSE_DIR_ENV

# Numbers from the sandbox's default outcome draw (not magic): most connect and complete.
FIRST_NUMBER = 2025550000


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The warehouse directory for this test; the DuckDB file is ``warehouse.duckdb`` inside."""
    monkeypatch.setenv(WAREHOUSE_DIR_ENV, str(tmp_path / "warehouse"))
    yield tmp_path / "warehouse"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+1{FIRST_NUMBER + start + i}" for i in range(count)]


def place_calls(
    sandbox: EmbeddedSandbox,
    phone_numbers: list[str],
    *,
    campaign: str = "spring",
    start_in_seconds: float | None = None,
) -> list[Call]:
    """Create one call per number, keyed like a campaign's; optionally scheduled for later."""
    plan: dict[str, Any] | None = None
    if start_in_seconds is not None:
        earliest = datetime.now(timezone.utc) + timedelta(seconds=start_in_seconds)
        plan = {"earliest_at": earliest.isoformat()}
    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        return [
            client.create_call(
                sandbox.call_out_connection,
                number,
                name=f"Contact {i}",
                context={"dispatch_key": f"{campaign}:{i:016x}:1", "first_name": f"C{i}"},
                schedule_plan=plan,
            )
            for i, number in enumerate(phone_numbers)
        ]


def wait_until_ended(sandbox: EmbeddedSandbox, calls: list[Call], timeout: float = 30) -> None:
    """Until every call is terminal (the sandbox runs 100x faster than life)."""
    wanted = {c.id for c in calls}
    deadline = time.monotonic() + timeout
    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        while time.monotonic() < deadline:
            ended = {
                c.id for c in client.iter_calls(sandbox.call_out_connection) if c.is_terminal()
            }
            if wanted <= ended:
                return
            time.sleep(0.2)
    raise AssertionError("calls did not end in time")


def reads(sandbox: EmbeddedSandbox, fragment: str) -> int:
    """GET requests the sandbox answered on routes containing ``fragment``."""
    requests = sandbox.admin.stats()["requests"]
    return sum(
        sum(codes.values())
        for route, codes in requests.items()
        if route.startswith("GET ") and fragment in route
    )
