"""call_campaign's outcomes leave memory as they happen: exact counts, a sample, the full CSV."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.models import CampaignResult, ContactOutcome
from casey_flows.campaign.outcome_log import KEEP_FIRST, OutcomeLog
from casey_flows.campaign.publish import summary_markdown
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox

pytestmark = pytest.mark.usefixtures("prefect_server")

ALWAYS_OPEN = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])


def phone(n: int) -> str:
    return f"+1202{2_000_000 + n:07d}"


def rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def dry_run(sandbox: EmbeddedSandbox, credentials_block: str, **params: Any) -> CampaignResult:
    state = asyncio.run(
        call_campaign(
            connection_code=sandbox.call_out_connection,
            credentials_block=credentials_block,
            dry_run=True,
            calling_window=ALWAYS_OPEN,
            return_state=True,
            **params,
        )
    )
    assert state.is_completed(), state.message
    return state.result()


def test_twelve_thousand_contacts_keep_exact_counts_a_sample_and_a_full_csv(
    sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    contacts = tmp_path / "contacts.csv"
    with contacts.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone_number", "name"])
        writer.writerows([phone(n), f"n{n}"] for n in range(11_990))
        writer.writerows(["not a number", "bad"] for _ in range(10))
    out = tmp_path / "outcomes.csv"
    result = dry_run(
        sandbox,
        credentials_block,
        contacts_file=str(contacts),
        campaign_id="twelve-thousand",
        exports={"csv_path": str(out), "full_numbers": True, "call_events": "none"},
        # A plan of seconds, not 40 hours: one crossing the window's 1 s gap at midnight would
        # defer whoever's turn fell into it.
        limits={
            "max_concurrent_calls": 1000,
            "max_requests_per_second": 1000,
            "expected_call_seconds": 1,
        },
    )

    assert result.counts == {"planned": 11_990, "rejected": 10}
    assert result.total == 12_000 and result.preview and result.preview.dialled_now == 11_990
    assert not result.outcomes_complete
    # No problem outcome in a dry run: the sample is the first KEEP_FIRST, in the order read
    # (the rejected rows come last in the file: they are in the CSV and the counts only).
    assert len(result.outcomes) == KEEP_FIRST
    assert [o.phone_number for o in result.outcomes] == [phone(n) for n in range(KEEP_FIRST)]
    assert result.outcomes_csv == str(out.resolve()) and not result.outcomes_csv_temporary
    written = rows(out)
    assert len(written) == 12_000
    assert [r["outcome"] for r in written[-10:]] == ["rejected"] * 10
    assert {r["phone_number"] for r in written if r["outcome"] == "planned"} == {
        phone(n) for n in range(11_990)
    }
    summary = summary_markdown(result)
    assert f"{KEEP_FIRST} of the 12000 outcomes" in summary and "12000 contacts" in summary


def test_a_small_campaign_keeps_everything_and_writes_a_temporary_masked_csv(
    sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    result = dry_run(
        sandbox,
        credentials_block,
        contacts=[{"phone_number": phone(n)} for n in range(4)],
        campaign_id="small-temp",
        exports={"call_events": "none"},
    )
    try:
        assert result.outcomes_complete and result.total == len(result.outcomes) == 4
        assert result.outcomes_csv_temporary and result.outcomes_csv
        written = rows(result.outcomes_csv)
        assert len(written) == 4
        assert all(r["phone_number"] not in {phone(n) for n in range(4)} for r in written)
        assert "temporary file on the worker" in summary_markdown(result)
    finally:
        Path(result.outcomes_csv or "").unlink(missing_ok=True)


def test_the_reminders_join_reads_the_csv_when_the_result_is_a_sample(tmp_path: Path) -> None:
    from flows.appointment_reminders import no_answers, outcomes_by_phone

    with OutcomeLog(tmp_path / "o.csv", full_numbers=True, keep_all_up_to=2, keep_first=1) as log:
        for n in range(5):
            value = "no_answer" if n % 2 else "completed"
            log.add(ContactOutcome(phone_number=phone(n), outcome=value, attempts=1))
    result = log.fill(CampaignResult(campaign_id="r", connection_code="c"))
    assert not result.outcomes_complete and len(result.outcomes) == 1
    by_phone = outcomes_by_phone(result)
    assert len(by_phone) == 5 and by_phone[phone(3)] == ("no_answer", 1)
    assert no_answers(result) == {phone(1), phone(3)}

    with OutcomeLog(tmp_path / "masked.csv", keep_all_up_to=0) as masked:
        masked.add(ContactOutcome(phone_number=phone(1), outcome="completed"))
    with pytest.raises(ValueError, match="masked numbers"):
        outcomes_by_phone(masked.fill(CampaignResult(campaign_id="r", connection_code="c")))
