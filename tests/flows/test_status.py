"""campaign_status against the sandbox, through a real Prefect server: a real campaign's outcomes
read back from the call list alone."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)

from casey_flows.campaign.models import CampaignResult, ContactOutcome
from casey_flows.campaign.outcomes import Outcome, outcome_label
from casey_flows.campaign.staging import stage_contacts
from casey_flows.client import mask_phone
from casey_flows.core.dispatch import make_dispatch_key
from casey_flows.exports import artifact_key
from casey_flows.flows.status import campaign_status
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.sandbox.testing import wait_for, wait_for_terminal
from tests.flows.test_campaign import run_campaign

pytestmark = pytest.mark.usefixtures("prefect_server")

CAMPAIGN = "status-audit"
# busy and no answer are retried once (max_attempts=2); completed, failed and voicemail are not.
DIALLED = ["+12025550486", "+12025550408", "+12025550100", "+12025550500", "+12025550555"]
NEVER_DIALLED = ["+12025557101", "+12025557102"]
OFF_THE_LIST = "+12025570100"  # an older call of the campaign (key only); 0100: completed


def post_call(sandbox: EmbeddedSandbox, number: str, context: dict[str, Any]) -> str:
    with httpx.Client(base_url=sandbox.base_url, headers=sandbox.headers, timeout=10) as http:
        created = http.post(sandbox.calls_path(), json={"phone_number": number, "context": context})
        created.raise_for_status()
        return created.json()["data"]["id"]


def wait_ended(sandbox: EmbeddedSandbox, call_ids: list[str]) -> None:
    with httpx.Client(base_url=sandbox.base_url, headers=sandbox.headers, timeout=10) as http:
        for call_id in call_ids:
            wait_for_terminal(http, sandbox.calls_path(), call_id, timeout=20)


def keyed(campaign: str, number: str, attempt: int = 1, *, with_id: bool = True) -> dict:
    context: dict[str, Any] = {"dispatch_key": make_dispatch_key(campaign, number, attempt)}
    return context | ({"campaign_id": campaign} if with_id else {})


def status(sandbox: EmbeddedSandbox, credentials_block: str, **params: Any) -> Any:
    params = {"connection_code": sandbox.call_out_connection, "campaign_id": CAMPAIGN, **params}
    return asyncio.run(
        campaign_status(credentials_block=credentials_block, return_state=True, **params)
    )


@pytest.fixture(scope="module")
def campaign(sandbox: EmbeddedSandbox, credentials_block: str) -> dict[str, Any]:
    """One real campaign, then a call of another campaign to one of its numbers and an older
    call of this campaign (key only) to a number not on its list, all ended."""
    sandbox.clean()
    state = run_campaign(
        sandbox,
        credentials_block,
        contacts=[{"phone_number": n, "name": f"Contact {n[-4:]}"} for n in DIALLED],
        campaign_id=CAMPAIGN,
        retries={"max_attempts": 2, "delay_seconds": 0.2},
    )
    assert state.is_completed(), state.message
    other = post_call(sandbox, DIALLED[2], keyed("another-campaign", DIALLED[2]))
    older = post_call(sandbox, OFF_THE_LIST, keyed(CAMPAIGN, OFF_THE_LIST, with_id=False))
    wait_ended(sandbox, [other, older])
    return {"result": state.result(), "other": other, "older": older}


def comparable(outcome: ContactOutcome) -> tuple:
    return (
        outcome.outcome,
        outcome.status,
        outcome.ended_reason,
        outcome.attempts,
        outcome.call_ids,
        outcome.duplicate_call_ids,
    )


def test_status_matches_the_campaigns_own_outcomes(
    campaign: dict[str, Any], sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    ran: CampaignResult = campaign["result"]
    assert {o.phone_number: o.attempts for o in ran.outcomes}[DIALLED[0]] == 2  # really retried
    state = status(sandbox, credentials_block)
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    by_phone = {o.phone_number: o for o in result.outcomes}
    assert set(by_phone) == {*DIALLED, OFF_THE_LIST}
    for outcome in ran.outcomes:
        assert comparable(by_phone[outcome.phone_number]) == comparable(outcome), outcome
        assert by_phone[outcome.phone_number].name == outcome.name
    assert by_phone[OFF_THE_LIST].call_ids == [campaign["older"]]
    every_call = {c for o in result.outcomes for c in o.call_ids + o.duplicate_call_ids}
    assert campaign["other"] not in every_call  # another campaign's call on the same number
    assert not result.dialled_twice
    for name, count in ran.counts.items():
        said = f"{count + (name == 'completed')} {outcome_label(name)}"  # words, not values
        assert said in (state.message or "")


def test_with_the_contact_list_reports_not_dialled_rejected_and_off_the_list(
    campaign: dict[str, Any], sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    contacts = tmp_path / "contacts.csv"
    rows = [*DIALLED, *NEVER_DIALLED, "2025557103"]  # the last has no '+': rejected
    contacts.write_text("phone_number,name\n" + "".join(f"{n},Someone\n" for n in rows))
    export = tmp_path / "status.csv"
    state = status(
        sandbox,
        credentials_block,
        contacts_file=str(contacts),
        contacts=[{"phone_number": DIALLED[0]}],  # a duplicate of a file row: collapsed
        export_csv_path=str(export),
        export_full_numbers=True,
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    assert result.duplicates == 1
    assert result.counts[Outcome.NOT_DIALLED] == 2 and result.counts["rejected"] == 1
    assert [o.phone_number for o in result.by_outcome(Outcome.NOT_DIALLED)] == NEVER_DIALLED
    assert result.by_outcome("rejected")[0].row == 9  # the header is row 1
    (off_the_list,) = [o for o in result.outcomes if o.phone_number == OFF_THE_LIST]
    assert "not on the contact list" in (off_the_list.reason or "")
    assert "1 called but not on the contact list" in (state.message or "")
    ran = {o.phone_number: o for o in campaign["result"].outcomes}
    for outcome in result.outcomes:
        if outcome.phone_number in ran:
            assert comparable(outcome) == comparable(ran[outcome.phone_number])
    with export.open(encoding="utf-8") as handle:
        exported = {row["phone_number"]: row for row in csv.DictReader(handle)}
    assert {*DIALLED, *NEVER_DIALLED, OFF_THE_LIST} <= set(exported)  # full numbers, as asked
    assert exported[NEVER_DIALLED[0]]["outcome"] == Outcome.NOT_DIALLED.value

    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    assert set(artifacts) == {
        artifact_key("campaign-status-outcomes", CAMPAIGN),
        artifact_key("campaign-status-summary", CAMPAIGN),
    }  # the campaign's own casey-campaign-outcomes-<id> is left as the campaign wrote it
    text = json.dumps(artifacts)
    numbers = [*DIALLED, *NEVER_DIALLED, OFF_THE_LIST]
    assert not any(n in text or n[1:] in text for n in numbers)
    table = json.loads(artifacts[artifact_key("campaign-status-outcomes", CAMPAIGN)])
    assert {row["phone_number"] for row in table} >= {mask_phone(n) for n in numbers}
    assert (
        "status from the call list" in artifacts[artifact_key("campaign-status-summary", CAMPAIGN)]
    )


def test_the_campaigns_staged_list_reads_the_same(
    campaign: dict[str, Any], sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    staged = stage_contacts(
        [{"phone_number": n} for n in [*DIALLED, *NEVER_DIALLED]], url=str(tmp_path)
    )
    state = status(sandbox, credentials_block, staged_contacts=staged)
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    assert [o.phone_number for o in result.by_outcome(Outcome.NOT_DIALLED)] == NEVER_DIALLED
    ran = {o.phone_number: o for o in campaign["result"].outcomes}
    for outcome in result.outcomes:
        if outcome.phone_number in ran:
            assert comparable(outcome) == comparable(ran[outcome.phone_number])


def test_live_calls_are_still_open_and_a_key_dialled_twice_is_reported(
    sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    live_number, twice_number = "+12025550999", "+12025550100"  # 0999: a long call
    live = post_call(sandbox, live_number, keyed("status-live", live_number))
    first = post_call(sandbox, twice_number, keyed("status-live", twice_number))
    second = post_call(sandbox, twice_number, keyed("status-live", twice_number))
    wait_ended(sandbox, [first, second])
    state = status(sandbox, credentials_block, campaign_id="status-live")
    assert state.is_completed(), state.message
    by_phone = {o.phone_number: o for o in state.result().outcomes}
    assert (by_phone[live_number].outcome, by_phone[live_number].call_ids) == ("still_open", [live])
    twice = by_phone[twice_number]
    assert (twice.outcome, twice.call_ids, twice.duplicate_call_ids) == (
        "completed",
        [first],
        [second],
    )
    assert "1 dialled more than once" in (state.message or "")
    logged = wait_for(
        lambda: [m for m in asyncio.run(logs_of(state.state_details.flow_run_id)) if second in m],
        timeout=10,
    )
    assert mask_phone(twice_number) in logged[0] and twice_number[1:] not in logged[0]


async def artifacts_of(flow_run_id: UUID) -> dict[str, str]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: (a.data if isinstance(a.data, str) else json.dumps(a.data)) for a in found}


async def logs_of(flow_run_id: UUID) -> list[str]:
    async with get_client() as client:
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]
