"""One outcome vocabulary: the ``Outcome`` values in data, their labels for people, and unknown
call statuses passed through normalised."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from casey_flows import Outcome
from casey_flows.campaign.engine import EngineSettings
from casey_flows.campaign.models import CampaignResult, ContactOutcome
from casey_flows.campaign.outcome_log import OutcomeLog
from casey_flows.campaign.outcomes import describe_outcome, outcome_label, outcome_value
from casey_flows.campaign.publish import summary_markdown
from casey_flows.client import Call
from casey_flows.tasks.events import call_payload
from tests.campaign.engine_runner import ANY_TIME

VALUES = {o.value for o in Outcome}


def test_every_outcome_the_code_writes_is_a_snake_case_member_with_a_label() -> None:
    wanted = {
        "completed",
        "no_answer",
        "busy",
        "voicemail",
        "failed",
        "deferred",
        "suppressed",
        "rejected",
        "error",
        "still_open",
        "not_dialled",
        "unconfirmed",
        "planned",
    }
    assert wanted <= VALUES
    assert all(v == v.lower() and " " not in v and "-" not in v for v in VALUES)
    assert (Outcome.NO_ANSWER.label, Outcome.STILL_OPEN.label) == ("no answer", "still open")
    assert Outcome.NOT_DIALLED.label == "not dialled"


@pytest.mark.parametrize("spelled", ["no_answer", "no answer", "No-Answer", " NO ANSWER "])
def test_every_spelling_of_an_outcome_is_one_member(spelled: str) -> None:
    outcome = ContactOutcome(phone_number="+12025550100", outcome=spelled).outcome
    assert outcome is Outcome.NO_ANSWER
    settings = EngineSettings(  # as call_campaign builds it from its retry_outcomes
        campaign_id="c", connection_code="x", window=ANY_TIME, retry_outcomes=frozenset({spelled})
    )
    assert settings.retry_outcomes == {Outcome.NO_ANSWER.value}


def test_the_engines_default_retry_outcomes_are_outcome_values() -> None:
    settings = EngineSettings(campaign_id="c", connection_code="x", window=ANY_TIME)
    assert settings.retry_outcomes == {Outcome.NO_ANSWER.value, Outcome.BUSY.value}


@pytest.mark.parametrize(
    ("status", "ended_reason", "expected"),
    [
        ("completed", "customer_ended_call", Outcome.COMPLETED),
        ("No-Answer", "no_answer", Outcome.NO_ANSWER),
        ("busy", None, Outcome.BUSY),
        ("completed", "Voicemail", Outcome.VOICEMAIL),
        ("FAILED", "provider_error", Outcome.FAILED),
    ],
)
def test_a_known_status_is_its_member(
    status: str, ended_reason: str | None, expected: Outcome
) -> None:
    call = Call(id="c1", status=status, ended_reason=ended_reason)
    assert describe_outcome(call) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Left-Message", "left_message"), ("carrier rejected", "carrier_rejected"), (None, "unknown")],
)
def test_an_unknown_status_passes_through_normalised(status: str | None, expected: str) -> None:
    outcome = describe_outcome(Call(id="c1", status=status))
    assert outcome == expected and not isinstance(outcome, Outcome)
    row = ContactOutcome(phone_number="+12025550100", outcome=outcome)
    assert row.outcome == expected and row.model_dump()["outcome"] == expected
    assert outcome_label(outcome) == expected.replace("_", " ")


def test_the_value_lands_in_json_the_csv_and_event_payloads(tmp_path: Path) -> None:
    result = CampaignResult(
        campaign_id="vocabulary",
        connection_code="demo-outbound",
        outcomes=[
            ContactOutcome(phone_number=f"+1202555010{i}", outcome=outcome)
            for i, outcome in enumerate(
                [Outcome.NO_ANSWER, Outcome.STILL_OPEN, Outcome.NOT_DIALLED, "left_message"]
            )
        ],
    )
    written = [outcome_value(o.outcome) for o in result.outcomes]
    assert written == ["no_answer", "still_open", "not_dialled", "left_message"]
    assert json.dumps(Outcome.NO_ANSWER) == json.dumps(Outcome.NO_ANSWER.value) == '"no_answer"'
    assert f"{Outcome.STILL_OPEN}" == str(Outcome.STILL_OPEN) == "still_open"
    dumped = json.loads(result.model_dump_json())
    assert [o["outcome"] for o in dumped["outcomes"]] == written
    assert json.loads(json.dumps(result.model_dump()))["outcomes"][0]["outcome"] == "no_answer"
    assert list(result.counts) == written  # plain values as keys, e.g. in the events' counts
    assert all(type(k) is str for k in result.counts)

    with OutcomeLog(tmp_path / "outcomes.csv") as log:
        log.extend(result.outcomes)
    with log.path.open(newline="", encoding="utf-8") as handle:
        assert [r["outcome"] for r in csv.DictReader(handle)] == written

    voicemail = Call(id="c1", status="completed", ended_reason="voicemail")
    payload = call_payload(voicemail, ended=True)
    assert json.loads(json.dumps(payload))["outcome"] == Outcome.VOICEMAIL.value
    assert call_payload(voicemail)["outcome"] is None  # a dispatch is not an outcome


def test_people_read_labels_in_markdown_and_messages() -> None:
    result = CampaignResult(
        campaign_id="words",
        connection_code="demo-outbound",
        outcomes=[
            ContactOutcome(phone_number="+12025550100", outcome=Outcome.NO_ANSWER),
            ContactOutcome(phone_number="+12025550101", outcome=Outcome.NO_ANSWER),
            ContactOutcome(phone_number="+12025550102", outcome=Outcome.NOT_DIALLED),
        ],
    )
    assert result.counts_in_words() == "2 no answer, 1 not dialled"
    markdown = summary_markdown(result)
    assert "| `no answer` | 2 |" in markdown and "no_answer" not in markdown
    assert result.by_outcome("No Answer") == result.by_outcome(Outcome.NO_ANSWER)
    assert len(result.by_outcome(Outcome.NO_ANSWER)) == 2


def test_the_outcomes_module_does_not_import_prefect() -> None:
    # A fresh interpreter: in this one, other tests may already have imported Prefect.
    code = "import sys, casey_flows.campaign.outcomes; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
