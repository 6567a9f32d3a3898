"""``campaign_status``: a campaign's outcomes rebuilt from the Casey API alone.

For after a cancel or a crash, or for an audit: the connection's calls are the ledger
(``casey_flows.campaign.status``), so no state of the campaign's own run is needed. The report
is the campaign's (the same outcome rows, table, summary and CSV), under artifact keys of its
own: ``casey-campaign-status-outcomes-<campaign>`` and ``casey-campaign-status-summary-<campaign>``.
A status read is a different document from the campaign's final report (it cannot tell a
deferred or suppressed contact from one never reached, and it may run while calls are live), so
it keeps a history of its own instead of becoming the latest version of the campaign's table.
"""

# Annotations are evaluated, not deferred: a served run gets this flow cloudpickled by value
# (see casey_flows/flows/__init__.py).
from datetime import datetime, timedelta, timezone
from typing import Annotated

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import Field

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.campaign.models import CampaignResult, ContactInput, rejected_outcomes
from casey_flows.campaign.outcome_log import OutcomeLog
from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.phone_numbers import DefaultRegion
from casey_flows.campaign.publish import publish_results
from casey_flows.campaign.query import ContactsQuery
from casey_flows.campaign.staging import StagedContacts
from casey_flows.campaign.status import (
    DEFAULT_MAX_CALLS,
    NOT_LISTED_REASON,
    CampaignCalls,
    ledger_outcomes,
    read_campaign_calls,
)
from casey_flows.exports import md_literal
from casey_flows.flows.campaign import contact_stream
from casey_flows.flows.params import capped_flow
from casey_flows.run_logs import forwards_logs
from casey_flows.tasks.calls import Credentials, casey_client

STATUS_ARTIFACT_KIND = "campaign-status"
STATUS_LABEL = "status from the call list"
# Time zones play no part in a status report; any valid default loads the rows the same way.
_CONTACTS_TIMEZONE = "UTC"


def _run_name() -> str:
    params = flow_run.parameters
    words = ["status of", params.get("campaign_id"), "on", params.get("connection_code")]
    return " ".join(str(w) for w in words if w)


@task(name="read-campaign-calls", cache_policy=NO_CACHE)
async def fetch_campaign_calls(
    credentials: Credentials,
    connection_code: str,
    campaign_id: str,
    *,
    since: datetime,
    max_calls: int = DEFAULT_MAX_CALLS,
) -> CampaignCalls:
    """The campaign's calls on the connection, newest first, back to ``since`` (one task run
    whatever the number of calls)."""
    async with casey_client(credentials) as client:
        return await read_campaign_calls(
            client, connection_code, campaign_id, since=since, max_calls=max_calls
        )


@forwards_logs
@capped_flow(name="campaign-status", flow_run_name=_run_name)
async def campaign_status(
    campaign_id: str,
    connection_code: str,
    contacts: list[ContactInput] | None = None,
    contacts_file: str | None = None,
    staged_contacts: StagedContacts | None = None,
    contacts_query: ContactsQuery | None = None,
    credentials_block: str = DEFAULT_BLOCK_NAME,
    default_region: DefaultRegion = None,
    lookback_hours: Annotated[float, Field(gt=0)] = 72.0,
    max_calls: Annotated[int, Field(gt=0)] = DEFAULT_MAX_CALLS,
    export_csv_path: str | None = None,
    export_raw_cells: bool = False,
    export_full_numbers: bool = False,
) -> CampaignResult:
    """Rebuild a campaign's outcomes from the connection's call list: dials nobody.

    Reads the connection's calls newest first back to ``lookback_hours`` (as a re-run of the
    campaign would), keeps those of ``campaign_id`` (its id in the call's context, or its
    dispatch key) and reports one outcome per number, as the campaign does: attempts, call ids,
    the last call's status and outcome, calls still live as ``still_open``, anyone dialled twice
    in ``duplicate_call_ids``. Given the contact list too, valid contacts without a call are
    ``not_dialled``, rejected rows ``rejected``, and numbers called that are not on the list are
    still reported. The UI shows the outcome table and summary under keys of their own
    (``casey-campaign-status-...``); the final state message gives the counts.

    Args:
        campaign_id: The campaign_id the campaign ran with (its run name shows it).
        connection_code: Code of the Casey connection the campaign dialled on.
        contacts: The campaign's contacts, to report those not dialled (optional).
        contacts_file: Or the campaign's CSV, JSON or JSONL file of contacts: a path, or a
            URL every worker can read (s3://, gs://, file://).
        staged_contacts: Or the campaign's contacts as staged with stage_contacts (the
            reference the campaign ran with).
        contacts_query: Or the SQL query the campaign read its contacts from (a database
            block, or the embedded warehouse), run again now.
        credentials_block: Name of the Casey Credentials block that holds the API key.
        default_region: The default_region the campaign ran with: national formats in its
            contacts are read in this country (e.g. US). Empty: numbers need their +.
        lookback_hours: How far back to read the connection's calls (as far as the campaign
            ran, at least).
        max_calls: Stop reading after this many calls, newest first (and say so).
        export_csv_path: Write every outcome to this CSV file (a path on the worker). Empty:
            a temporary file on the worker (the result's outcomes_csv).
        export_raw_cells: Write CSV cells exactly as they are, including text a spreadsheet
            would run as a formula (=, +, -, @): only for files loaded into a database.
        export_full_numbers: Full phone numbers in the CSV (masked otherwise).

    Returns:
        A ``CampaignResult`` of the campaign as the call list shows it: exact counts, the
        outcomes (all up to 10,000; above, the first 5,000 and every problem) and
        ``outcomes_csv``, the CSV of them all.

    Example:
        ```python
        from casey_flows import campaign_status

        result = await campaign_status(
            campaign_id="reminders-2026-11-27",
            connection_code="demo-outbound",
            contacts_file="contacts.csv",
        )
        print(result.summary_table())
        ```
    """
    logger = get_run_logger()
    batch = None
    if contacts or contacts_file or staged_contacts or contacts_query is not None:
        async with contact_stream(
            contacts,
            contacts_file,
            staged_contacts,
            contacts_query,
            _CONTACTS_TIMEZONE,
            default_region,
        ) as stream:
            batch = stream.collect()
    since = datetime.now(timezone.utc) - timedelta(hours=lookback_hours)
    found = await fetch_campaign_calls(
        credentials_block, connection_code, campaign_id, since=since, max_calls=max_calls
    )
    result = CampaignResult(
        campaign_id=campaign_id,
        connection_code=connection_code,
        duplicates=batch.duplicates if batch else 0,
        warnings=list(batch.warnings) if batch else [],
    )
    if not found.complete:
        result.warnings.append(
            f"stopped after reading {found.scanned} calls, before reaching "
            f"{since:%Y-%m-%d %H:%M} UTC: older calls of this campaign are not counted "
            "(raise max_calls)"
        )
    unlisted = 0
    with OutcomeLog(
        export_csv_path,
        full_numbers=export_full_numbers,
        raw_cells=export_raw_cells,
        name=f"{campaign_id}-status",
    ) as outcome_log:
        if batch is not None:
            outcome_log.extend(rejected_outcomes(batch))
        for outcome in ledger_outcomes(
            found.calls,
            campaign_id,
            contacts=batch.contacts if batch is not None else None,
            not_dialled_reason=f"no call of this campaign in the last {lookback_hours:g} h",
        ):
            outcome_log.add(outcome)
            unlisted += (outcome.reason or "").startswith(NOT_LISTED_REASON)
    outcome_log.fill(result)
    logger.info(
        "campaign %s on %s: %d of its calls among %d read back to %s UTC",
        campaign_id,
        connection_code,
        len(found.calls),
        found.scanned,
        f"{since:%Y-%m-%d %H:%M}",
    )
    for outcome in result.dialled_twice:  # masked: logs are for people
        logger.error(
            "%s was dialled more than once under one dispatch key: %s",
            outcome.masked_phone,
            " ".join(outcome.call_ids + outcome.duplicate_call_ids),
        )
    note = (
        f"Rebuilt from {len(found.calls)} calls of this campaign among the {found.scanned} calls "
        f"of the connection read back to {since:%Y-%m-%d %H:%M} UTC."
    )
    if batch is not None:
        note += (
            " The call list does not say why a contact was not dialled (deferred, suppressed, "
            f"an error): each reads {md_literal(Outcome.NOT_DIALLED.value)}."
        )
    await publish_results(result, kind=STATUS_ARTIFACT_KIND, label=STATUS_LABEL, note=note)
    logger.info("wrote %d outcomes to %s", result.total, result.outcomes_csv)
    message = _message(result, unlisted=unlisted, complete=found.complete)
    # A returned State is unwrapped by Prefect: the caller gets its data, as annotated.
    return Completed(message=message, data=result)  # type: ignore[return-value]


def _message(result: CampaignResult, *, unlisted: int, complete: bool) -> str:
    """Counts, then whatever must not go unseen: anyone dialled twice, calls off the list, an
    incomplete read."""
    message = result.counts_in_words() or "no calls"
    if result.dialled_twice:
        message += f"; {len(result.dialled_twice)} dialled more than once (see duplicate_call_ids)"
    if unlisted:
        message += f"; {unlisted} called but not on the contact list"
    if not complete:
        message += "; the call list was not read to the end of the lookback (raise max_calls)"
    return message
