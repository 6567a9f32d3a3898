"""The dry run's ETA against a real run of the same contacts.

The session sandbox draws ring and talk times at random, so its makespans wander; this module
starts a sandbox whose calls all last the same (no ring, a fixed 60 s talk, always answered),
so the plan's one assumption about calls (``limits.expected_call_seconds``) holds and what is
left to compare is the model of the engine: order, slots, request rate and the polls that free
slots.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from casey_flows.blocks import CaseyCredentials
from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.models import CampaignResult
from casey_flows.campaign.publish import summary_markdown
from casey_flows.client.models import parse_instant
from casey_flows.exports import OUTCOME_COLUMNS
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox

pytestmark = pytest.mark.usefixtures("prefect_server")

SPEED = 100.0
TALK_SECONDS = 60.0  # simulated: 0.6 s of real time at SPEED
BLOCK = "casey-test-fixed-length"
ALWAYS_OPEN = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])


@pytest.fixture(scope="module")
def fixed_length_sandbox() -> Iterator[EmbeddedSandbox]:
    with running_sandbox(
        seed=7,
        speed=SPEED,
        ring_time_s=0.0,
        call_duration_distribution="fixed",
        call_duration_mean_s=TALK_SECONDS,
        outcome_weights={"completed": 1.0},
    ) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def fixed_length_block(prefect_server: None, fixed_length_sandbox: EmbeddedSandbox) -> str:
    CaseyCredentials(
        api_key=fixed_length_sandbox.api_key, base_url=fixed_length_sandbox.base_url
    ).save(BLOCK, overwrite=True)
    return BLOCK


def run(sandbox: EmbeddedSandbox, exports: dict[str, Any] | None = None, **params: Any) -> Any:
    return asyncio.run(
        call_campaign(
            connection_code=sandbox.call_out_connection,
            credentials_block=BLOCK,
            calling_window=ALWAYS_OPEN,
            exports={"call_events": "none", **(exports or {})},
            safety={"redial_after_seconds": 2.0},
            return_state=True,
            **params,
        )
    )


def measured_makespan(sandbox: EmbeddedSandbox, call_ids: set[str]) -> float:
    """First create to the last call's end, by the sandbox's own clock."""
    with CaseyCredentials.load(BLOCK).get_sync_client() as client:
        calls = [c for c in client.iter_calls(sandbox.call_out_connection) if c.id in call_ids]
    assert len(calls) == len(call_ids)
    first = min(c.created_at for c in calls if c.created_at)
    ends: list[datetime | None] = [parse_instant(getattr(c, "updated_at", None)) for c in calls]
    return (max(e for e in ends if e) - first).total_seconds()


def test_eta_of_a_dry_run_within_15_percent_of_the_real_run(
    fixed_length_sandbox: EmbeddedSandbox, fixed_length_block: str, tmp_path: Path
) -> None:
    sandbox = fixed_length_sandbox.clean()
    contacts = [{"phone_number": f"+1202555{2000 + i:04d}"} for i in range(40)]
    limits = {
        "max_concurrent_calls": 5,
        "max_requests_per_second": 50.0,
        "poll_interval_seconds": 0.2,
    }
    export = tmp_path / "plan.csv"
    dry = run(
        sandbox,
        contacts=contacts,
        campaign_id="eta-dry",
        dry_run=True,
        limits={**limits, "expected_call_seconds": TALK_SECONDS / SPEED},
        exports={"csv_path": str(export)},
    )
    planned: CampaignResult = dry.result()
    preview = planned.preview
    assert preview is not None and preview.dialled_now == 40 and preview.deferred == 0
    assert dry.message.startswith("dry run: 40 would be called now, done by ")
    assert all(o.outcome == "planned" and o.planned_at for o in planned.outcomes)
    assert "## Preview" in summary_markdown(planned)
    with export.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == OUTCOME_COLUMNS and rows[0][-2:] == ["planned_at", "line_type"]
    assert all(row[-2] and row[-1] == "fixed_line_or_mobile" for row in rows[1:])
    assert sandbox.admin.stats()["creates_total"] == 0

    real = run(sandbox, contacts=contacts, campaign_id="eta-real", limits=limits)
    result: CampaignResult = real.result()
    assert result.counts == {"completed": 40}, real.message
    assert result.preview is None
    call_ids = {i for o in result.outcomes for i in o.call_ids}
    measured = measured_makespan(sandbox, call_ids)
    print(f"ETA makespan {preview.makespan_seconds:.3f} s, measured {measured:.3f} s")
    assert preview.makespan_seconds == pytest.approx(measured, rel=0.15)
