"""``call_campaign``'s parameter groups: each model is one section of the Prefect run form.

The essentials (connection, contacts, campaign id, dry run) stay flat parameters; everything a
person rarely touches lives in these small typed models, so the form reads top to bottom and a
Python call stays short (``limits=CallLimits(max_concurrent_calls=5)`` or a plain dict).

Every field carries its description here: inside a model, pydantic puts it in the schema the UI
renders (only *top-level* flow parameters need the docstring's ``Args:``). ``extra="forbid"``
makes a misspelt field an error that names it, instead of a setting silently ignored.

A deployment's parameters merge *shallowly* with a run's: a run that passes one field of a group
replaces that whole group (the others fall back to the defaults here, not to the deployment's).
"""

# Evaluated annotations, like the flow modules that use them (see casey_flows/flows/__init__.py).
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.query import ContactsQuery
from casey_flows.client.status import normalize_status
from casey_flows.core.dispatch import DEFAULT_REDIAL_AFTER_SECONDS, REDIAL_AFTER_HELP, REDIAL_HELP
from casey_flows.exports import RAW_CELLS_HELP
from casey_flows.tasks.events import CALL_EVENTS_HELP, CallEvents, call_events_mode
from casey_flows.warehouse.opt_outs import WarehouseOptOuts


class Suppression(BaseModel):
    """Numbers never to call: a do-not-call list, a file of them, opt-outs from the warehouse."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Suppression (do-not-call)")

    numbers: list[str] = Field(
        default_factory=list, description="Numbers never to call, E.164 (e.g. +12025550100)."
    )
    file: str | None = Field(
        default=None,
        description="File of numbers never to call, one per line or a CSV with a phone_number "
        "column: a path, or a URL every worker can read (s3://, gs://, file://).",
    )
    opt_outs_from: WarehouseOptOuts | None = Field(
        default=None,
        title="Opt-outs from the warehouse",
        description="Also never call numbers that opted out on an earlier call on this "
        "connection, as loaded by sync_calls into this warehouse dataset.",
    )
    query: ContactsQuery | None = Field(
        default=None,
        title="Do-not-call query",
        description="Also never call the numbers a SQL query selects (a phone_number column), "
        "through a saved database block or on the embedded warehouse; re-read like the file.",
    )
    refresh_seconds: float = Field(
        default=300.0,
        ge=1,
        description="While the campaign runs, re-read the file, the opt-outs and the query this "
        "often (seconds); every number is checked against the latest read just before it is "
        "dialled.",
    )
    max_stale_seconds: float = Field(
        default=1800.0,
        ge=1,
        description="If re-reading keeps failing, dialling pauses; once the last good read is "
        "this old, the run fails rather than dial on an old list.",
    )

    @model_validator(mode="after")
    def _stale_after_a_refresh(self) -> "Suppression":
        if self.max_stale_seconds <= self.refresh_seconds:
            raise ValueError(
                f"max_stale_seconds ({self.max_stale_seconds:g}) must be more than "
                f"refresh_seconds ({self.refresh_seconds:g}): a list is that old at every refresh"
            )
        return self


class CallLimits(BaseModel):
    """How fast and how many at once: the provider's caps, and how patiently calls are watched."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Limits and pacing")

    max_concurrent_calls: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Calls live at once, at most (providers cap an account at 10 to 100).",
    )
    max_requests_per_second: float = Field(
        default=10.0,
        gt=0,
        le=1000,
        description="Requests per second to the Casey API, at most (creates and polls together).",
    )
    global_concurrency_limit: str | None = Field(
        default=None,
        description="Name of a Prefect global concurrency limit shared by every run on one "
        "Casey account: its slots cap live calls across runs. Empty: this run's cap only.",
    )
    call_timeout_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="Stop waiting for one call after this long. The call is not cancelled: "
        "its outcome is still_open.",
    )
    poll_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Fastest status poll, in seconds; polls slow down to 10 s while nothing "
        "changes.",
    )
    expected_call_seconds: float = Field(
        default=120.0,
        gt=0,
        le=86400,
        description="Dry run: how long a call lasts on average, create to hang-up, for the "
        "preview's ETA.",
    )


class CallRetries(BaseModel):
    """Which outcomes are dialled again, how often, how long after."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Retries")

    outcomes: list[str] = Field(
        default_factory=lambda: [Outcome.NO_ANSWER.value, Outcome.BUSY.value],
        description="Outcomes dialled again, matched against the call's status or ended_reason "
        "(no_answer, busy, voicemail, failed, or any status the API sends). Only with "
        "max_attempts above 1.",
    )
    max_attempts: int = Field(
        default=1, ge=1, le=10, description="Calls per contact at most, the first included."
    )
    delay_seconds: float = Field(
        default=600.0,
        ge=0,
        description="Seconds between a call's end and the next attempt; an attempt due outside "
        "the calling window waits for it to open.",
    )

    @field_validator("outcomes")
    @classmethod
    def _one_spelling(cls, value: list[str]) -> list[str]:
        """``No-Answer`` and ``no answer`` are ``no_answer``: the spelling of the CSV."""
        return [s for s in (normalize_status(v) for v in value) if s]


class ExactlyOnceSafety(BaseModel):
    """How the campaign makes sure nobody is dialled twice, across retries, re-runs and cancels."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Exactly-once safety")

    ledger_lookback_hours: float = Field(
        default=72.0,
        gt=0,
        description="How far back a run looks in the call list for calls this campaign placed "
        "(a re-run adopts them instead of dialling again).",
    )
    redial_after_seconds: float = Field(
        default=DEFAULT_REDIAL_AFTER_SECONDS, gt=0, description=REDIAL_AFTER_HELP
    )
    redial_unconfirmed: bool = Field(default=True, description=REDIAL_HELP)
    lease_wait_seconds: float = Field(
        default=120.0,
        ge=0,
        description="While another run dials this campaign, wait this long for it, then refuse "
        "(this run dials nobody).",
    )
    cancel_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        le=20,
        description="On cancel: how long calls in flight get to end before the outcomes are "
        "published.",
    )


class CampaignExports(BaseModel):
    """Where outcomes go besides the run's artifacts: a CSV file, and Prefect events per call."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Exports and events")

    csv_path: str | None = Field(
        default=None,
        description="Write every contact's outcome to this CSV file (a path), as outcomes "
        "happen. Empty: a temporary file on the worker (the result's outcomes_csv).",
    )
    full_numbers: bool = Field(
        default=False, description="Full phone numbers in the CSV (masked otherwise)."
    )
    raw_cells: bool = Field(default=False, description=RAW_CELLS_HELP)
    call_events: CallEvents = Field(default="failures", description=CALL_EVENTS_HELP)


class CrashResume(BaseModel):
    """Set by the crash-resume automation; a person leaves it alone (but for max_resumes)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", title="Crash resume (set by the automation)"
    )

    resume_of: str | None = Field(
        default=None,
        description="Set by the crash trigger: the id of the crashed run whose campaign this "
        "run resumes. Leave empty.",
    )
    resume_count: int = Field(
        default=0, ge=0, description="Set by the crash trigger: how many resumes so far."
    )
    max_resumes: int = Field(
        default=3,
        ge=0,
        description="A crashed run is resumed automatically at most this many times, then "
        "fails and waits for a person.",
    )


# call_campaign's flat parameters before they were grouped (0.1): old name -> (group, field).
FLAT_TO_GROUPED: dict[str, tuple[str, str]] = {
    "suppression_file": ("suppression", "file"),
    "opt_outs_from": ("suppression", "opt_outs_from"),
    "max_concurrent_calls": ("limits", "max_concurrent_calls"),
    "max_requests_per_second": ("limits", "max_requests_per_second"),
    "global_concurrency_limit": ("limits", "global_concurrency_limit"),
    "call_timeout_seconds": ("limits", "call_timeout_seconds"),
    "poll_interval_seconds": ("limits", "poll_interval_seconds"),
    "expected_call_seconds": ("limits", "expected_call_seconds"),
    "retry_outcomes": ("retries", "outcomes"),
    "max_attempts": ("retries", "max_attempts"),
    "retry_delay_seconds": ("retries", "delay_seconds"),
    "ledger_lookback_hours": ("safety", "ledger_lookback_hours"),
    "redial_after_seconds": ("safety", "redial_after_seconds"),
    "redial_unconfirmed": ("safety", "redial_unconfirmed"),
    "lease_wait_seconds": ("safety", "lease_wait_seconds"),
    "cancel_grace_seconds": ("safety", "cancel_grace_seconds"),
    "export_csv_path": ("exports", "csv_path"),
    "export_full_numbers": ("exports", "full_numbers"),
    "export_raw_cells": ("exports", "raw_cells"),
    "emit_call_events": ("exports", "call_events"),
    "resume_of": ("resume", "resume_of"),
    "resume_count": ("resume", "resume_count"),
    "max_resumes": ("resume", "max_resumes"),
}


def grouped_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """A run's parameters in today's groups, whether it was started before the grouping (flat
    names: a run that crashed on 0.1 and is resumed now) or after (returned as they are)."""
    grouped = {k: v for k, v in parameters.items() if k not in FLAT_TO_GROUPED}
    if isinstance(grouped.get("suppression"), list):  # 0.1: the list itself
        grouped["suppression"] = {"numbers": grouped["suppression"]}
    for old, (group, name) in FLAT_TO_GROUPED.items():
        if old in parameters:
            value = parameters[old]
            if old == "emit_call_events":
                value = call_events_mode(value)
            grouped[group] = {**(grouped.get(group) or {}), name: value}
    return grouped
