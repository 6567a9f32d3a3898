"""CSV injection: text we do not control (contact names from sign-up forms, context values,
campaign ids, what the API sends back) never becomes a live spreadsheet formula in a file
casey-flows writes, unless the user opts out for a database load."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from casey_flows.exports import FORMULA_TRIGGERS, safe_cell
from casey_flows.flows.report import call_report
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.reliability.conftest import run_campaign

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_server")]

CORPUS = Path(__file__).parents[1] / "data" / "bad_input" / "formula_cells.csv"


def cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [c for row in csv.reader(handle) for c in row]


def live_formulas(path: Path) -> list[str]:
    """Cells a spreadsheet would evaluate: a trigger first, and not a number or phone number."""
    return [c for c in cells(path) if c.startswith(FORMULA_TRIGGERS) and safe_cell(c) != c]


def test_campaign_and_report_exports_are_safe_to_open(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    outcomes, raw = tmp_path / "outcomes.csv", tmp_path / "outcomes-raw.csv"
    for path, raw_cells in ((outcomes, False), (raw, True)):
        state = run_campaign(
            clean_sandbox,
            credentials_block,
            contacts_file=str(CORPUS),
            campaign_id="=cmd-campaign",  # it starts every dispatch key in the report CSV
            exports={"csv_path": str(path), "raw_cells": raw_cells},
        )
        assert state.is_completed(), state.message
        assert len(state.result().outcomes) == 5  # every formula-like row is still a contact
    assert live_formulas(outcomes) == []
    assert '=HYPERLINK("http://evil.example","x")' in cells(raw)  # opted out: as it was
    assert '\'=HYPERLINK("http://evil.example","x")' in cells(outcomes)  # shown as text

    report = tmp_path / "report.csv"
    asyncio.run(
        call_report(
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            csv_path=str(report),
        )
    )
    names = cells(report)
    assert any("HYPERLINK" in c for c in names) and any(c.startswith("'=cmd") for c in names)
    assert live_formulas(report) == []


def test_the_reminders_pipeline_export_is_safe_to_open(tmp_path: Path) -> None:
    from casey_flows.campaign.models import CampaignResult
    from flows.appointment_reminders import Appointment, write_outcomes

    appointments = [
        Appointment(phone_number="+14155550100", name="=1+1", appointment_at="2030-05-14T09:30")
    ]
    result = CampaignResult(campaign_id="c", connection_code="x")
    path = Path(write_outcomes.fn(appointments, result, str(tmp_path / "r.csv"), False))
    assert "'=1+1" in cells(path)
    assert live_formulas(path) == []
