"""call_campaign's parameter groups: what a caller passes lands where the engine reads it, old
flat parameters (a run that crashed before the grouping) are regrouped, misspellings refused."""

from __future__ import annotations

import pytest
from prefect.exceptions import ParameterTypeError, SignatureMismatchError

from casey_flows import CallLimits, CallRetries, Suppression, call_campaign
from casey_flows.flows.campaign_options import FLAT_TO_GROUPED, grouped_parameters

OLD_FLAT_RUN = {
    "connection_code": "demo-outbound",
    "contacts_file": "contacts.csv",
    "campaign_id": "reminders-2026-11-27",
    "suppression": ["+12025550142"],
    "suppression_file": "dnc.txt",
    "opt_outs_from": {"dataset_name": "casey"},
    "max_concurrent_calls": 20,
    "poll_interval_seconds": 0.5,
    "retry_outcomes": ["no answer", "Busy"],
    "max_attempts": 2,
    "retry_delay_seconds": 900,
    "redial_unconfirmed": False,
    "export_csv_path": "out.csv",
    "emit_call_events": False,
    "resume_of": "0b0f5c43-4a7e-4b6c-9d1a-2f3e4d5c6b7a",
    "resume_count": 1,
    "max_resumes": 5,
}


def test_a_flat_run_of_0_1_validates_into_the_groups() -> None:
    parameters = call_campaign.validate_parameters(grouped_parameters(OLD_FLAT_RUN))
    assert parameters["suppression"] == Suppression(
        numbers=["+12025550142"], file="dnc.txt", opt_outs_from={"dataset_name": "casey"}
    )
    assert parameters["limits"] == CallLimits(max_concurrent_calls=20, poll_interval_seconds=0.5)
    assert parameters["retries"] == CallRetries(
        outcomes=["no_answer", "busy"], max_attempts=2, delay_seconds=900
    )
    assert parameters["safety"].redial_unconfirmed is False
    assert parameters["exports"].csv_path == "out.csv"
    assert parameters["exports"].call_events == "none"  # the old boolean, read as before
    assert parameters["resume"].max_resumes == 5
    assert parameters["campaign_id"] == "reminders-2026-11-27"


def test_every_flat_name_maps_to_a_field_of_its_group() -> None:
    schema = call_campaign.parameters.model_dump_for_openapi()
    for old, (group, field) in FLAT_TO_GROUPED.items():
        model = schema["properties"][group]["$ref"].rsplit("/", 1)[-1]
        assert field in schema["definitions"][model]["properties"], old


def test_grouped_parameters_are_left_as_they_are() -> None:
    today = {"connection_code": "c", "limits": {"max_concurrent_calls": 3}}
    assert grouped_parameters(today) == today


def test_a_misspelt_field_is_refused_by_name() -> None:
    with pytest.raises(ParameterTypeError, match="max_concurent_calls"):
        call_campaign.validate_parameters(
            {"connection_code": "c", "limits": {"max_concurent_calls": 3}}
        )


def test_a_flat_keyword_is_refused_not_ignored() -> None:
    with pytest.raises(SignatureMismatchError, match="max_concurrent_calls"):
        call_campaign.validate_parameters({"connection_code": "c", "max_concurrent_calls": 3})
