"""Every parameter of every public flow explains itself in the Prefect run form.

Prefect 3.9 builds each flow parameter's schema field anew, with the description taken from the
docstring's ``Args:`` section only (``Annotated[..., Field(description=...)]`` is dropped), and
its docstring parser drops an ``Args:`` entry that names no parameter without a word. Nested
models keep their own ``Field`` descriptions. So: every property described, every ``Args:``
name a parameter, for every flow a user can deploy from this project.
"""

from __future__ import annotations

import inspect

import pytest
from prefect import Flow
from prefect.utilities.callables import parameter_docstrings, parameter_schema
from prefect.utilities.schema_tools.validation import validate
from pydantic import BaseModel

from casey_flows import call_campaign, call_report, campaign_status, place_call, sync_calls
from flows.appointment_reminders import appointment_reminders
from tests.flows.run_forms import undescribed

PUBLIC_FLOWS: tuple[Flow, ...] = (
    call_campaign,
    place_call,
    campaign_status,
    call_report,
    sync_calls,
    appointment_reminders,
)
BY_NAME = pytest.mark.parametrize("flow", PUBLIC_FLOWS, ids=lambda f: f.name)


class Knobs(BaseModel):
    speed: int = 1


@BY_NAME
def test_every_property_has_a_description(flow: Flow) -> None:
    schema = parameter_schema(flow).model_dump_for_openapi()
    assert schema["properties"], f"{flow.name} has no parameters?"
    assert undescribed(schema) == []


# What a person must type before the form submits; everything else keeps its default.
REQUIRED = {
    "call-campaign": {"connection_code": "demo-outbound"},
    "place-call": {"phone_number": "+12025550100", "connection_code": "demo-outbound"},
    "campaign-status": {"campaign_id": "c", "connection_code": "demo-outbound"},
    "call-report": {"connection_code": "demo-outbound"},
    "sync-calls": {"connection_codes": ["demo-outbound"]},
    "appointment-reminders": {"appointments_file": "a.csv", "connection_code": "demo-outbound"},
}


@BY_NAME
def test_the_forms_defaults_pass_the_servers_validation(flow: Flow) -> None:
    """The Prefect server validates a run form's values against the schema (JSON Schema formats
    included) before the UI submits it: a default it refuses blocks every run from the UI. It
    did: a ``datetime.time`` is ``format: time`` (RFC 3339, with a UTC offset), so the calling
    window's own "09:00:00" was "not a 'time'"."""
    schema = parameter_schema(flow).model_dump_for_openapi()
    values = {n: p["default"] for n, p in schema["properties"].items() if "default" in p}
    assert validate({**values, **REQUIRED[flow.name]}, schema, raise_on_error=False) == []


@BY_NAME
def test_every_args_entry_names_a_parameter(flow: Flow) -> None:
    documented = set(parameter_docstrings(inspect.getdoc(flow.fn)))
    parameters = set(inspect.signature(flow.fn).parameters)
    assert documented - parameters == set(), "Args: entries that match no parameter"
    assert parameters - documented == set(), "parameters missing from Args:"


def test_the_checker_sees_a_missing_description() -> None:
    """The walk above can fail: an undocumented parameter and an undescribed model field."""

    def probe(documented: int, bare: int, knobs: Knobs) -> None:
        """Probe.

        Args:
            documented: Has its words.
            knobs: A section.
        """

    schema = parameter_schema(probe).model_dump_for_openapi()
    assert undescribed(schema) == ["bare", "Knobs.speed"]


def test_campaign_form_puts_essentials_first_and_resume_last() -> None:
    schema = parameter_schema(call_campaign).model_dump_for_openapi()
    order = sorted(schema["properties"], key=lambda n: schema["properties"][n]["position"])
    assert order[:7] == [
        "connection_code",
        "contacts",
        "contacts_file",
        "staged_contacts",
        "contacts_query",
        "campaign_id",
        "dry_run",
    ]
    assert order[-1] == "resume"
    sections = [n for n in order if "$ref" in schema["properties"][n]]
    assert sections == [
        "calling_window",
        "suppression",
        "line_types",
        "limits",
        "retries",
        "safety",
        "exports",
        "resume",
    ]
    titles = {name: d.get("title") for name, d in schema["definitions"].items()}
    assert titles["CrashResume"] == "Crash resume (set by the automation)"
    assert titles["StagedContacts"] == "Staged contacts (from stage_contacts)"
    # An optional model's toggle is labelled with its title.
    opt_outs = schema["definitions"]["Suppression"]["properties"]["opt_outs_from"]
    assert opt_outs["title"] == "Opt-outs from the warehouse"
    assert titles["ContactsQuery"] == "Contacts from a SQL query"
    assert titles["LineTypes"] == "Line types"
    assert "default_region" in order[: order.index("calling_window")]  # with the essentials
