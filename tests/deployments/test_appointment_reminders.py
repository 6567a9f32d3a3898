"""The appointment-reminders pipeline end to end: sandbox calls, a real Prefect server, a
follow-up run queued on a real deployment, the calls synced into a DuckDB warehouse of the
test's own, and an opt-out that stops the next day's call."""

from __future__ import annotations

import asyncio
import csv
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.staging import StagedContacts, read_staged_rows
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse.destination import WAREHOUSE_DIR_ENV
from casey_flows.warehouse.opt_outs import WarehouseOptOuts
from flows.appointment_reminders import RemindersResult, appointment_reminders

pytestmark = pytest.mark.usefixtures("prefect_server", "warehouse")

APPOINTMENTS = Path(__file__).with_name("appointments.csv")
DAY = date(2030, 5, 14)
ALWAYS_OPEN = CallingWindow(start=time(0), end=time(23, 59, 59), days=range(7))
# The sandbox's magic answers (digits 5-7 from the end): 990 answers opt_out true, 991 confirms.
OPTS_OUT, CONFIRMS = "+14159900042", "+14159910043"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pipeline syncs by default: into this test's own DuckDB file, not the home directory."""
    monkeypatch.setenv(WAREHOUSE_DIR_ENV, str(tmp_path / "warehouse"))
    return tmp_path / "warehouse"


async def remind_with_follow_up(**parameters: Any) -> tuple[RemindersResult, FlowRun, UUID]:
    """Apply the follow-up deployment, run the pipeline (it must complete), read the follow-up
    run it queued."""
    deployment_id = await (await call_campaign.ato_deployment("on-demand")).aapply()
    state = await appointment_reminders(**parameters, return_state=True)
    assert state.is_completed(), state.message
    result = await state.result()
    async with get_client() as client:
        follow_up = await client.read_flow_run(result.follow_up_flow_run_id)
    return result, follow_up, deployment_id


def test_reminds_one_day_and_queues_a_follow_up_for_no_answers(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    result, follow_up, deployment_id = asyncio.run(
        remind_with_follow_up(
            appointments_file=str(APPOINTMENTS),
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            day=DAY,
            calling_window=ALWAYS_OPEN,
            outcomes_csv=str(tmp_path / "out" / "reminders.csv"),
            follow_up_delay_minutes=90,
            poll_interval_seconds=0.2,
            staging_url=str(tmp_path / "staged"),
        )
    )
    # Only the 14th's three appointments were called, once each.
    assert result.appointments == 3
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {
        "+12025550100": 1,
        "+12025550408": 1,
        "+12025550486": 1,
    }
    assert result.campaign.counts == {"completed": 1, "no_answer": 1, "busy": 1}
    assert result.synced is not None and result.synced.rows["calls"] == 3
    with open(result.outcomes_csv, newline="") as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert rows["Grace"]["outcome"] == "no_answer"
    assert rows["Ada"]["phone_number"] == "+1•••••0100"
    # The follow-up: queued (not run) on the deployment, about 90 minutes out, no-answers only.
    assert follow_up.deployment_id == deployment_id
    assert follow_up.state.is_scheduled()
    delay = follow_up.expected_start_time - datetime.now(timezone.utc)
    assert timedelta(minutes=85) < delay < timedelta(minutes=91)
    # Its contacts travel staged: the run stores a reference, not a number.
    assert "contacts" not in follow_up.parameters
    staged = StagedContacts.model_validate(follow_up.parameters["staged_contacts"])
    assert staged.rows == 1 and staged.location.startswith(str(tmp_path / "staged"))
    contacts = [row for _, row in read_staged_rows(staged)]
    assert [c["phone_number"] for c in contacts] == ["+12025550408"]
    assert contacts[0]["timezone"] == "America/Chicago"
    assert "+12025550408" not in follow_up.name
    assert "+1202" not in str(follow_up.parameters)
    suppression = follow_up.parameters["suppression"]
    assert suppression["opt_outs_from"] == WarehouseOptOuts().model_dump(mode="json")


def test_who_opts_out_is_called_once_then_skipped_as_suppressed(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    appointments = tmp_path / "appointments.csv"
    appointments.write_text(
        "phone_number,name,appointment_at,timezone\n"
        f"{OPTS_OUT},Ida,2030-05-14T09:30:00,America/New_York\n"
        "+12025550100,Ada,2030-05-14T10:00:00,America/New_York\n"
        f"{OPTS_OUT},Ida,2030-05-15T09:30:00,America/New_York\n"  # her next appointment
        f"{CONFIRMS},Mary,2030-05-15T11:00:00,America/Chicago\n"
    )

    def remind(day: date):
        state = asyncio.run(
            appointment_reminders(
                appointments_file=str(appointments),
                connection_code=clean_sandbox.call_out_connection,
                credentials_block=credentials_block,
                day=day,
                calling_window=ALWAYS_OPEN,
                follow_up_deployment=None,
                poll_interval_seconds=0.2,
                staging_url=str(tmp_path / "staged"),
                return_state=True,
            )
        )
        assert state.is_completed(), state.message
        return state.result()

    first = remind(DAY)  # Ida answers "no more calls"; the sync loads it into opt_outs
    assert first.campaign.counts == {"completed": 2}
    assert first.synced.rows["opt_outs"] == 1

    second = remind(DAY + timedelta(days=1))  # a new campaign: Ida would be dialled again
    by_phone = {o.phone_number: o for o in second.campaign.outcomes}
    assert by_phone[OPTS_OUT].outcome == "suppressed"
    assert by_phone[OPTS_OUT].reason == "opted out on an earlier call"
    assert by_phone[CONFIRMS].outcome == "completed"
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {
        OPTS_OUT: 1,
        "+12025550100": 1,
        CONFIRMS: 1,
    }


def test_national_numbers_are_read_in_the_default_region_and_joined_as_dialled(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    """A US clinic's CSV in national format, one row with its own region: each is dialled in
    E.164, its outcome joined back to its row, and the no-answer's follow-up keeps the region."""
    appointments = tmp_path / "appointments.csv"
    appointments.write_text(
        "phone_number,name,appointment_at,timezone,region\n"
        "(202) 555-0100,Ada,2030-05-16T09:30:00,America/New_York,\n"
        "202.555.0408,Grace,2030-05-16T11:00:00,America/Chicago,\n"
        "020 7946 0100,Alan,2030-05-16T15:15:00,Europe/London,GB\n"
    )

    result, follow_up, _ = asyncio.run(
        remind_with_follow_up(
            appointments_file=str(appointments),
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            day=DAY + timedelta(days=2),  # a day of its own: the follow-up's idempotency key
            default_region="us",
            calling_window=ALWAYS_OPEN,
            outcomes_csv=str(tmp_path / "reminders.csv"),
            full_numbers=True,
            sync_to_warehouse=False,
            poll_interval_seconds=0.2,
            staging_url=str(tmp_path / "staged"),
        )
    )
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {
        "+12025550100": 1,
        "+12025550408": 1,
        "+442079460100": 1,
    }
    with open(result.outcomes_csv, newline="") as handle:
        rows = {r["name"]: (r["phone_number"], r["outcome"]) for r in csv.DictReader(handle)}
    assert rows == {
        "Ada": ("+12025550100", "completed"),
        "Grace": ("+12025550408", "no_answer"),
        "Alan": ("+442079460100", "completed"),
    }
    assert follow_up.parameters["default_region"] == "US"
    staged = StagedContacts.model_validate(follow_up.parameters["staged_contacts"])
    assert [row["phone_number"] for _, row in read_staged_rows(staged)] == ["202.555.0408"]
