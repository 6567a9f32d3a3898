"""A pipeline a data team would build: remind tomorrow's appointments by phone.

read the appointments CSV -> select one day's -> stage them (``stage_contacts``) ->
``call_campaign`` as a subflow (skipping anyone who opted out on an earlier call) -> write the
outcomes CSV -> ``sync_calls`` as a subflow (the calls and their answers into the warehouse, so
today's opt-outs are known) -> stage the no-answers and schedule one follow-up campaign run for
them (``run_deployment`` with ``timeout=0``: it is queued for later and this run does not wait for
it), which skips opt-outs too.

Contacts travel by reference, never as a parameter list: a day of any size fits, and nobody's
number is stored with the runs. The follow-up's reference must be readable by the worker that
runs it: set ``staging_url`` (or a default result storage block) when workers run elsewhere.

Opt-outs close the loop: whoever answers "no more calls" today is ``suppressed`` by the
follow-up and by tomorrow's run ("opted out on an earlier call"), dialled no more.

The appointments CSV needs ``phone_number`` and ``appointment_at`` (ISO local time, e.g.
``2030-05-14T09:30:00``); ``name``, ``timezone`` (IANA) and ``region`` (the country of a national
format, e.g. ``US``; else ``default_region``) are optional.
"""

# Annotations are evaluated, not deferred: flow.serve() needs it (casey_flows/flows/__init__.py).

import csv
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.deployments import arun_deployment
from pydantic import BaseModel, Field

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.models import CampaignResult, ContactInput
from casey_flows.campaign.outcome_log import KEEP_ALL_UP_TO
from casey_flows.campaign.outcomes import Outcome, outcome_value
from casey_flows.campaign.phone_numbers import DefaultRegion, normalize_phone
from casey_flows.campaign.staging import astage_contacts
from casey_flows.client import mask_phone
from casey_flows.exceptions import InvalidPhoneNumber
from casey_flows.exports import write_csv
from casey_flows.flows.campaign import call_campaign
from casey_flows.flows.campaign_options import CallLimits, CampaignExports, Suppression
from casey_flows.flows.sync import sync_calls
from casey_flows.warehouse.opt_outs import WarehouseOptOuts
from casey_flows.warehouse.report import SyncSummary
from casey_flows.warehouse.source import DEFAULT_OPT_OUT_FIELD

OUTCOME_CSV_COLUMNS = ("appointment_at", "name", "phone_number", "outcome", "attempts")
FOLLOW_UP_DEPLOYMENT = "call-campaign/on-demand"


class Appointment(BaseModel):
    phone_number: str
    name: str | None = None
    appointment_at: datetime
    timezone: str | None = None
    region: str | None = None

    def dialled_as(self, default_region: str | None) -> str:
        """The number as the campaign dials it (E.164), to join outcomes on; as given when it
        is no valid number (the campaign rejects it, under the number as given)."""
        try:
            return normalize_phone(self.phone_number, self.region or default_region)
        except InvalidPhoneNumber:
            return self.phone_number


class RemindersResult(BaseModel):
    """What happened: the campaign, where outcomes went, the sync, the follow-up run (if any)."""

    day: date
    appointments: int
    campaign: CampaignResult
    outcomes_csv: str | None = None
    synced: SyncSummary | None = None
    follow_up_flow_run_id: str | None = None
    follow_up_at: datetime | None = None


@task(name="select-appointments", cache_policy=NO_CACHE)
def select_appointments(path: str, day: date) -> list[Appointment]:
    """The appointments on ``day`` (in each appointment's own local time)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        rows = [Appointment.model_validate(row) for row in csv.DictReader(handle)]
    return [a for a in rows if a.appointment_at.date() == day]


def to_contact(appointment: Appointment) -> ContactInput:
    local = appointment.appointment_at.strftime("%A %H:%M")
    return ContactInput(
        phone_number=appointment.phone_number,
        name=appointment.name,
        timezone=appointment.timezone,
        region=appointment.region,
        context={"appointment_at": appointment.appointment_at.isoformat(), "when": local},
    )


# A contact's outcome as this flow uses it: (outcome value, attempts).
Called = tuple[str, int]


def outcomes_by_phone(result: CampaignResult) -> dict[str, Called]:
    """Every contact's outcome by number: from the result when it holds them all, else read
    back from the campaign's outcomes CSV (which must carry full numbers)."""
    return dict(_every_outcome(result))


def no_answers(result: CampaignResult) -> set[str]:
    """The numbers whose outcome is no_answer, all of them (read as ``outcomes_by_phone``)."""
    return {p for p, (o, _) in _every_outcome(result) if o == Outcome.NO_ANSWER.value}


def _every_outcome(result: CampaignResult) -> Iterator[tuple[str, Called]]:
    if result.outcomes_complete:
        for o in result.outcomes:
            yield o.phone_number, (outcome_value(o.outcome), o.attempts)
        return
    if result.outcomes_csv is None:
        raise ValueError("the campaign's result is incomplete and names no outcomes CSV")
    with open(result.outcomes_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            phone = row["phone_number"]
            if phone and not phone[1:].isdigit():  # a rejected row's raw value is masked too
                if row["outcome"] == Outcome.REJECTED.value:
                    continue
                raise ValueError(f"{result.outcomes_csv} has masked numbers; it cannot be joined")
            yield phone, (row["outcome"], int(row["attempts"] or 0))


@task(name="write-reminder-outcomes", cache_policy=NO_CACHE)
def write_outcomes(
    appointments: list[Appointment],
    result: CampaignResult,
    path: str,
    full_numbers: bool,
    default_region: str | None = None,
) -> str:
    """One row per appointment with its call outcome; masked numbers unless asked otherwise.

    Written by the library's CSV writer, so a name typed into a sign-up form cannot become a
    spreadsheet formula here either."""
    by_phone = outcomes_by_phone(result)

    def row(a: Appointment) -> dict[str, object]:
        dialled = a.dialled_as(default_region)
        outcome, attempts = by_phone.get(dialled) or (Outcome.NOT_DIALLED.value, 0)
        return {
            "appointment_at": a.appointment_at.isoformat(),
            "name": a.name or "",
            "phone_number": dialled if full_numbers else mask_phone(dialled),
            "outcome": outcome,
            "attempts": attempts,
        }

    return str(write_csv(path, OUTCOME_CSV_COLUMNS, (row(a) for a in appointments)))


@flow(name="appointment-reminders")
async def appointment_reminders(
    appointments_file: str,
    connection_code: str,
    credentials_block: str = DEFAULT_BLOCK_NAME,
    day: date | None = None,
    clinic_timezone: str = "America/New_York",
    default_region: DefaultRegion = None,
    calling_window: CallingWindow = CallingWindow(),  # noqa: B008 - frozen model, the UI default
    outcomes_csv: str | None = None,
    full_numbers: bool = False,
    follow_up_deployment: str | None = FOLLOW_UP_DEPLOYMENT,
    follow_up_delay_minutes: Annotated[float, Field(ge=0)] = 120.0,
    sync_to_warehouse: bool = True,
    warehouse: WarehouseOptOuts = WarehouseOptOuts(),  # noqa: B008 - frozen model, the default
    opt_out_field: str = DEFAULT_OPT_OUT_FIELD,
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 2.0,
    staging_url: str | None = None,
) -> RemindersResult:
    """Call everyone with an appointment on ``day`` who has not opted out; load the calls into
    the warehouse; queue one follow-up run for no-answers.

    Args:
        appointments_file: CSV of appointments: phone_number and appointment_at (ISO local
            time), optionally name, timezone and region (ISO 3166-1 alpha-2, for a
            national format).
        connection_code: Code of the Casey call_out connection to dial on.
        credentials_block: Name of the Casey Credentials block that holds the API key.
        day: Remind the appointments on this day. Empty: tomorrow, in clinic_timezone.
        clinic_timezone: IANA zone that decides what "tomorrow" is.
        default_region: ISO 3166-1 alpha-2 code (e.g. US) of the country whose national
            formats the appointments' numbers are in, unless a row's region says otherwise.
            Empty: every number needs its leading + and country code.
        calling_window: When people may be called, in each one's own time zone.
        outcomes_csv: Write one row per appointment, with its call outcome, to this CSV.
        full_numbers: Full phone numbers in outcomes_csv (masked otherwise).
        follow_up_deployment: Deployment that calls the no-answers again later. Empty: no
            follow-up.
        follow_up_delay_minutes: How long after this run the follow-up starts.
        sync_to_warehouse: Load the calls and answers into the warehouse after the campaign,
            and skip anyone who opted out on an earlier call.
        warehouse: Where sync_calls loads, and opt-outs are read from.
        opt_out_field: The conversation field whose "yes" means "no more calls".
        poll_interval_seconds: Fastest status poll while the calls are live.
        staging_url: Where the day's contacts and the follow-up's are staged: an fsspec URL or
            path every worker can read (s3://, gs://, file://). Empty: Prefect's default
            result storage (local storage: this machine's workers only).
    """
    logger = get_run_logger()
    day = day or (datetime.now(ZoneInfo(clinic_timezone)) + timedelta(days=1)).date()
    appointments = select_appointments(appointments_file, day)
    campaign_id = f"reminders-{connection_code}-{day.isoformat()}".lower()
    logger.info("%d appointments on %s", len(appointments), day)
    opt_outs_from = warehouse if sync_to_warehouse else None
    staged = await astage_contacts((to_contact(a) for a in appointments), url=staging_url)
    # Above KEEP_ALL_UP_TO the campaign's result holds a sample: this flow joins its outcomes
    # CSV instead, written with full numbers to a folder of its own and removed after.
    large = len(appointments) > KEEP_ALL_UP_TO
    private = tempfile.mkdtemp(prefix="casey-reminders-") if large else None
    exports = CampaignExports(
        csv_path=f"{private}/outcomes.csv" if private else None, full_numbers=private is not None
    )
    try:
        campaign = await call_campaign(
            connection_code=connection_code,
            staged_contacts=staged,
            credentials_block=credentials_block,
            campaign_id=campaign_id,
            default_region=default_region,
            calling_window=calling_window,
            suppression=Suppression(opt_outs_from=opt_outs_from),
            limits=CallLimits(poll_interval_seconds=poll_interval_seconds),
            exports=exports,
        )
        result = RemindersResult(day=day, appointments=len(appointments), campaign=campaign)
        if outcomes_csv:
            result.outcomes_csv = write_outcomes(
                appointments, campaign, outcomes_csv, full_numbers, default_region
            )
        missed_numbers = no_answers(campaign)
    finally:
        if private:
            shutil.rmtree(private, ignore_errors=True)
    if private:
        campaign.warnings.append("the campaign's outcomes CSV (full numbers) was joined, removed")
    if sync_to_warehouse:
        # Before anyone is called again: today's opt-outs must be in the warehouse by then. A
        # failed sync fails this run (re-run it: the campaign adopts its calls, dials nobody).
        result.synced = await sync_calls(
            [connection_code],
            credentials_block=credentials_block,
            opt_out_field=opt_out_field,
            **warehouse.model_dump(),  # destination, dataset, its credentials, pipeline
        )
    missed = [a for a in appointments if a.dialled_as(default_region) in missed_numbers]
    if missed and follow_up_deployment:
        when = datetime.now(timezone.utc) + timedelta(minutes=follow_up_delay_minutes)
        # A run_deployment goes straight to the server, unchecked: the list travels staged.
        missed_staged = await astage_contacts((to_contact(a) for a in missed), url=staging_url)
        parameters = {
            "connection_code": connection_code,
            "credentials_block": credentials_block,
            "campaign_id": f"{campaign_id}-follow-up",
            "default_region": default_region,
            "calling_window": calling_window.model_dump(mode="json"),
            "staged_contacts": missed_staged.model_dump(mode="json"),
            "suppression": Suppression(opt_outs_from=opt_outs_from).model_dump(mode="json"),
        }
        run = await arun_deployment(
            follow_up_deployment,
            parameters=parameters,
            scheduled_time=when,
            timeout=0,
            idempotency_key=f"{campaign_id}-follow-up",
            flow_run_name=f"follow-up {campaign_id} ({len(missed)} no-answers)",
        )
        result.follow_up_flow_run_id, result.follow_up_at = str(run.id), when
        logger.info("follow-up for %d no-answers scheduled at %s", len(missed), when)
    return result
