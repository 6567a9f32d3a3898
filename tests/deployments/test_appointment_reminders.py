"""The appointment-reminders pipeline end to end: sandbox calls, a real Prefect server, a
follow-up run queued on a real deployment."""

from __future__ import annotations

import asyncio
import csv
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox
from flows.appointment_reminders import appointment_reminders

pytestmark = pytest.mark.usefixtures("prefect_server")

APPOINTMENTS = Path(__file__).with_name("appointments.csv")
DAY = date(2030, 5, 14)
ALWAYS_OPEN = CallingWindow(start=time(0), end=time(23, 59, 59), days=range(7))


def test_reminds_one_day_and_queues_a_follow_up_for_no_answers(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    async def scenario():
        deployment = await call_campaign.ato_deployment("on-demand")
        deployment_id = await deployment.aapply()
        state = await appointment_reminders(
            appointments_file=str(APPOINTMENTS),
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            day=DAY,
            calling_window=ALWAYS_OPEN,
            outcomes_csv=str(tmp_path / "out" / "reminders.csv"),
            follow_up_delay_minutes=90,
            poll_interval_seconds=0.2,
            return_state=True,
        )
        assert state.is_completed(), state.message
        result = await state.result()
        async with get_client() as client:
            follow_up = await client.read_flow_run(result.follow_up_flow_run_id)
        return result, follow_up, deployment_id

    result, follow_up, deployment_id = asyncio.run(scenario())
    # Only the 14th's three appointments were called, once each.
    assert result.appointments == 3
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {
        "+12025550100": 1,
        "+12025550408": 1,
        "+12025550486": 1,
    }
    assert result.campaign.counts == {"completed": 1, "no answer": 1, "busy": 1}
    with open(result.outcomes_csv, newline="") as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert rows["Grace"]["outcome"] == "no answer"
    assert rows["Ada"]["phone_number"] == "+1•••••0100"
    # The follow-up: queued (not run) on the deployment, about 90 minutes out, no-answers only.
    assert follow_up.deployment_id == deployment_id
    assert follow_up.state.is_scheduled()
    delay = follow_up.expected_start_time - datetime.now(timezone.utc)
    assert timedelta(minutes=85) < delay < timedelta(minutes=91)
    contacts = follow_up.parameters["contacts"]
    assert [c["phone_number"] for c in contacts] == ["+12025550408"]
    assert contacts[0]["timezone"] == "America/Chicago"
    assert "+12025550408" not in follow_up.name
