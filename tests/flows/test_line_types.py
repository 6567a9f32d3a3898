"""call_campaign's line_types filter and place_call's default_region, against the sandbox
through a real Prefect server (issue #25)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import State

from casey_flows.campaign.line_types import LineTypes
from casey_flows.campaign.models import CampaignResult
from casey_flows.flows.campaign import call_campaign
from casey_flows.flows.place_call import place_call
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.fast_campaign import with_fast

pytestmark = pytest.mark.usefixtures("prefect_server")

# One of each kind libphonenumber tells apart; each ends in the sandbox's "completed" suffix.
US = "+12025550100"  # fixed_line_or_mobile: a US mobile and a landline look alike
UK_MOBILE = "+447911120100"  # mobile
LONDON = "+442079460100"  # fixed_line
CONTACTS = [{"phone_number": n} for n in (US, UK_MOBILE, LONDON)]


def run(sandbox: EmbeddedSandbox, credentials_block: str, **params: Any) -> State:
    return asyncio.run(
        call_campaign(
            connection_code=sandbox.call_out_connection,
            credentials_block=credentials_block,
            return_state=True,
            **with_fast(params),
        )
    )


@pytest.mark.parametrize(
    ("line_types", "dialled", "excluded"),
    [
        # Never mobiles: the US number may be one, so it is left out too.
        ({"never": ["mobile"]}, {LONDON}, {US: "may be mobile", UK_MOBILE: "is in"}),
        # Only mobiles: what is surely one; the US number is not.
        ({"only": ["mobile"]}, {UK_MOBILE}, {US: "is not in", LONDON: "is not in"}),
        # Never landlines: the US number may be one too.
        ({"never": ["fixed_line"]}, {UK_MOBILE}, {US: "may be fixed_line", LONDON: "is in"}),
    ],
)
def test_line_types_leave_numbers_out_and_report_them_like_suppression(
    clean_sandbox: EmbeddedSandbox,
    credentials_block: str,
    tmp_path: Path,
    line_types: dict[str, list[str]],
    dialled: set[str],
    excluded: dict[str, str],
) -> None:
    csv_path = tmp_path / "outcomes.csv"
    state = run(
        clean_sandbox,
        credentials_block,
        contacts=CONTACTS,
        line_types=line_types,
        exports={"csv_path": str(csv_path), "full_numbers": True},
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    assert set(clean_sandbox.admin.stats()["calls_by_phone"]) == dialled
    assert result.counts["excluded"] == len(excluded)
    assert f"{len(excluded)} excluded" in (state.message or "")
    for outcome in result.by_outcome("excluded"):
        assert excluded[outcome.phone_number] in (outcome.reason or ""), outcome.reason
        assert not outcome.call_ids
    rows = {r["phone_number"]: r for r in csv.DictReader(csv_path.open(encoding="utf-8"))}
    assert {n for n, r in rows.items() if r["outcome"] == "excluded"} == set(excluded)
    assert {n: r["line_type"] for n, r in rows.items()} == {
        US: "fixed_line_or_mobile",
        UK_MOBILE: "mobile",
        LONDON: "fixed_line",
    }


def test_a_dry_run_counts_the_excluded(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run(
        clean_sandbox,
        credentials_block,
        contacts=CONTACTS,
        line_types=LineTypes(never=["mobile"]),
        dry_run=True,
    )
    assert state.is_completed(), state.message
    preview = state.result().preview
    assert (preview.dialled_now, preview.excluded) == (1, 2)
    assert "2 excluded by line type" in (state.message or "")
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_an_unknown_line_type_fails_the_run_before_anyone_is_dialled(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run(clean_sandbox, credentials_block, contacts=CONTACTS, line_types={"never": ["cell"]})
    assert state.is_failed()
    assert "line_types" in (state.message or "") and "cell" in (state.message or "")
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_place_call_reads_a_national_number_in_its_default_region(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = asyncio.run(
        place_call(
            phone_number="(202) 555-0100",
            default_region="us",
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            return_state=True,
        )
    )
    assert state.is_completed(), state.message
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {US: 1}


@pytest.mark.parametrize(
    ("phone_number", "reason"),
    [
        ("(202) 555-0100", "no leading '+'"),  # no default_region: nothing is guessed
        ("+1 000 000 0000", "is not a valid number"),
    ],
)
def test_place_call_refuses_what_it_cannot_read_before_any_create(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, phone_number: str, reason: str
) -> None:
    state = asyncio.run(
        place_call(
            phone_number=phone_number,
            connection_code=clean_sandbox.call_out_connection,
            credentials_block=credentials_block,
            return_state=True,
        )
    )
    assert state.is_failed()
    assert reason in (state.message or "")
    assert "5550100" not in (state.message or "") and "0000000" not in (state.message or "")
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_suppression_entries_are_read_in_the_default_region_and_bad_ones_reported(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("(202) 555-0100\n000 000 0000\n")
    state = run(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": "+1 202 555 0100"}, {"phone_number": "(202) 555-0486"}],
        default_region="US",
        suppression={"file": str(dnc), "numbers": ["+44 20 7946 0100", "2025550486 x1"]},
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {"+12025550486": 1}
    (suppressed,) = result.by_outcome("suppressed")
    assert suppressed.phone_number == US
    # Two entries name nobody: reported with their masked value, never dropped silently.
    unreadable = [w for w in result.warnings if "is not" in w or "characters" in w]
    assert len(unreadable) == 2, result.warnings
    assert any("dnc.txt line 2" in w and "is not a valid number" in w for w in unreadable)
    assert any("parameter line 2" in w and "characters other than digits" in w for w in unreadable)
    assert not any("2025550486" in w or "0000000000" in w for w in result.warnings)
