"""``call_campaign``: dial a list of contacts safely, and report every outcome.

Never the same person twice by accident (dispatch keys + the API as ledger), never outside
calling hours (each contact's own time zone), never a suppressed number, within a concurrency
cap and a request rate. A handful of task runs whatever the size of the list.
"""

# Annotations are evaluated, not deferred: a served run gets this flow cloudpickled by value
# (see casey_flows/flows/__init__.py).
import asyncio
import contextlib
import gc
import itertools
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.exceptions import TerminationSignal
from prefect.runtime import deployment, flow_run
from prefect.states import Completed

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME, resolve_credentials
from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import (
    ContactStream,
    NumberedRows,
    file_rows,
)
from casey_flows.campaign.control import (
    campaign_id_for,
    campaign_lease,
    check_resume_limit,
    crashed_run_parameters,
)
from casey_flows.campaign.dry_run import plan_contacts
from casey_flows.campaign.engine import (
    CampaignEngine,
    EngineHooks,
    EngineSettings,
    Track,
)
from casey_flows.campaign.eta import PlanSettings, assumptions
from casey_flows.campaign.line_types import LineTypes
from casey_flows.campaign.live_suppression import LiveSuppression
from casey_flows.campaign.models import (
    CampaignResult,
    ContactInput,
)
from casey_flows.campaign.outcome_log import OutcomeLog
from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.phone_numbers import DefaultRegion
from casey_flows.campaign.publish import ProgressReporter, publish_results
from casey_flows.campaign.query import (
    SPOOL_PREFIX,
    ContactsQuery,
    SpooledQuery,
    read_query_numbers,
    spool_query,
)
from casey_flows.campaign.query_rows import numbered_rows
from casey_flows.campaign.screening import (
    OPT_OUTS_SOURCE,
    PARAMETER_SOURCE,
    QUERY_SOURCE,
    Screening,
)
from casey_flows.campaign.slots import GlobalLimitGate, SlotGate
from casey_flows.campaign.staging import StagedContacts, read_staged_rows
from casey_flows.campaign.suppression import SuppressionList
from casey_flows.client import Call
from casey_flows.core.dispatch import RedialRule
from casey_flows.core.waiting import WaitPolicy
from casey_flows.flows.campaign_options import (
    CallLimits,
    CallRetries,
    CampaignExports,
    CrashResume,
    ExactlyOnceSafety,
    Suppression,
    grouped_parameters,
)
from casey_flows.flows.params import capped_flow
from casey_flows.run_logs import forwarding, forwards_logs
from casey_flows.tasks.calls import Credentials, casey_client
from casey_flows.tasks.events import (
    CallEvents,
    emit_call_event,
    related_resources,
    wants_event,
)
from casey_flows.tasks.preflight import ensure_call_out
from casey_flows.warehouse.opt_outs import read_opt_outs


def default_campaign_id() -> str:
    """Same deployment + same scheduled day = same campaign, so a re-run adopts its calls."""
    scheduled = flow_run.scheduled_start_time or datetime.now(timezone.utc)
    return campaign_id_for(scheduled, deployment.name, str(flow_run.get_id()))


def _run_name() -> str:
    params = flow_run.parameters
    words = ["campaign", params.get("campaign_id"), "on", params.get("connection_code")]
    return " ".join(str(w) for w in words if w)


@task(name="read-contacts-query", cache_policy=NO_CACHE)
async def read_contacts_query(query: ContactsQuery, directory: str) -> SpooledQuery:
    """The query's rows, read once to their end into a file on this worker (a snapshot: the
    cursor and the connection are closed before anyone is dialled)."""
    spooled = await spool_query(query, Path(directory))
    get_run_logger().info("contacts query: read %d rows from %s", spooled.rows, query.source)
    return spooled


@contextlib.asynccontextmanager
async def contact_stream(
    contacts: list[ContactInput] | None,
    contacts_file: str | None,
    staged_contacts: StagedContacts | None,
    contacts_query: ContactsQuery | None,
    default_timezone: str,
    default_region: str | None = None,
) -> AsyncIterator[ContactStream]:
    """Every source's contacts as one stream, read as the campaign goes (the campaign's and its
    status's one way in): the file, the staged rows, the list, then the query's rows (read to
    their end first). A number in several is kept once, where first seen. Each source's first
    row is read now, so a file that cannot be read fails before anyone is dialled."""
    warnings: list[str] = []
    sources: list[NumberedRows] = []
    sizes: list[int | None] = []  # rows each source holds, if it says
    if contacts_file:
        sources.append(file_rows(contacts_file, warnings))
        sizes.append(None)
    if staged_contacts:
        sources.append(read_staged_rows(staged_contacts))
        sizes.append(staged_contacts.rows)
    if contacts:
        sources.append(enumerate((c.model_dump(exclude_none=True) for c in contacts), start=1))
        sizes.append(len(contacts))
    with tempfile.TemporaryDirectory(prefix=SPOOL_PREFIX) as directory:
        if contacts_query is not None:
            spooled = await read_contacts_query(contacts_query, directory)
            warnings.extend(spooled.warnings)
            sources.append(numbered_rows(spooled.path))
            sizes.append(spooled.rows)
        yield ContactStream(
            [_first_read_now(iter(rows)) for rows in sources],
            default_timezone=default_timezone,
            default_region=default_region,
            warnings=warnings,
            known_rows=None if None in sizes else sum(s or 0 for s in sizes),
        )


def _first_read_now(rows: Iterator[tuple[int, object]]) -> Iterable[tuple[int, object]]:
    """The rows, the first one read already (a missing file or column raises here)."""
    first = next(rows, None)
    return rows if first is None else itertools.chain([first], rows)


async def _read_suppression(
    suppression: Suppression, connection_code: str, region: str | None
) -> list[SuppressionList]:
    """Every suppression source, read now: the list, the file, the warehouse's opt-outs, the
    query; national formats read in ``region`` (the campaign's default_region)."""
    lists = [SuppressionList(suppression.numbers, source=PARAMETER_SOURCE, region=region)]
    if suppression.file:
        read_file = partial(SuppressionList.from_file, suppression.file, region=region)
        lists.append(await anyio.to_thread.run_sync(read_file))
    if suppression.opt_outs_from is not None:
        numbers = await read_opt_outs(suppression.opt_outs_from, connection_code)
        lists.append(SuppressionList(numbers, source=OPT_OUTS_SOURCE, region=region))
    if suppression.query is not None:
        numbers = await read_query_numbers(suppression.query)
        lists.append(SuppressionList(numbers, source=QUERY_SOURCE, region=region))
    return lists


@task(name="check-connection", cache_policy=NO_CACHE)
async def check_connection(credentials: Credentials, connection_code: str) -> None:
    """What a dry run can check without dialling: the key works and the connection can call."""
    async with casey_client(credentials) as client:
        await ensure_call_out(client, connection_code)


@task(name="dial-contacts", cache_policy=NO_CACHE)
async def dial_contacts(
    credentials: Credentials,
    screening: Screening,
    settings: EngineSettings,
    *,
    max_requests_per_second: float,
    global_concurrency_limit: str | None,
    ledger_since: datetime,
    emit_call_events: CallEvents,
    suppression: LiveSuppression | None = None,
) -> None:
    """The whole dialling phase in one task run: index the ledger, then dial, wait and retry
    as contacts are read; the suppression list re-read meanwhile and checked before every
    create.

    Every contact read gets its outcome, also when the run is cancelled: the engine then stops
    dialling and settles what it can within the grace (the flow writes the unread ones). Each
    final outcome goes to the screening's outcome log as it happens (the outcomes CSV).
    """
    outcome_log = screening.outcome_log
    progress = ProgressReporter(settings.campaign_id)
    await progress.start()
    gate = (
        GlobalLimitGate(settings.max_concurrent_calls, global_concurrency_limit)
        if global_concurrency_limit
        else SlotGate(settings.max_concurrent_calls)
    )

    def event(what: str) -> Callable[[Call], None] | None:
        def emit(call: Call) -> None:
            if wants_event(emit_call_events, what, call):
                name = call.normalized_status or "unknown" if what == "ended" else what
                emit_call_event(call, name, settings.connection_code, settings.campaign_id)

        return emit if emit_call_events != "none" else None

    def duplicate(call: Call) -> None:  # always: a person dialled twice must be seen
        emit_call_event(call, "duplicate", settings.connection_code, settings.campaign_id)

    hooks = EngineHooks(
        on_dispatched=event("dispatched"),
        on_ended=event("ended"),
        on_duplicate=duplicate,
        on_progress=_progress(screening, progress),
        before_dial=suppression.before_dial if suppression else None,
        on_outcome=_log_track(outcome_log),
    )
    # The engine's warnings (re-dials, ambiguous creates, a stop) go to the run's log: the flow
    # forwards them, and so does the task on its own where a task runner runs it in another
    # process (Dask, Ray), where the flow's forwarding is not open.
    with forwarding(), _frozen_heap():
        async with casey_client(
            credentials, max_requests_per_second=max_requests_per_second
        ) as client:
            await ensure_call_out(client, settings.connection_code)
            engine = CampaignEngine(client, settings, gate, hooks, stop_signals=STOP_SIGNALS)
            refreshing = suppression.refreshing() if suppression else contextlib.nullcontext()
            try:
                await engine.read_ledger(since=ledger_since)
                async with refreshing:
                    await engine.run(screening)
                await engine.check_redialled()
            finally:
                await gate.aclose()
    await progress.finish(outcome_log.total, outcome_log.total)


# A cancel from the UI arrives as SIGTERM: Prefect raises TerminationSignal, and while the loop
# shuts down every task sees CancelledError at its current await (awaiting still works there).
STOP_SIGNALS = (asyncio.CancelledError, TerminationSignal)


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """While dialling, what was alive before (modules, Prefect's and pydantic's state) is out of
    the garbage collector's reach: its full collections walked all of it ~100 times in a
    100,000-contact campaign, a fifth of the flow's CPU (``benchmarks/campaign.py``, ``gc``).
    Unfrozen after, so it is collected as usual again."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@forwards_logs
# A CappedFlow: an oversized call fails before any request, saying to stage the contacts.
@capped_flow(name="call-campaign", flow_run_name=_run_name)
async def call_campaign(
    connection_code: str,
    contacts: list[ContactInput] | None = None,
    contacts_file: str | None = None,
    staged_contacts: StagedContacts | None = None,
    contacts_query: ContactsQuery | None = None,
    campaign_id: str | None = None,
    dry_run: bool = False,
    credentials_block: str = DEFAULT_BLOCK_NAME,
    default_region: DefaultRegion = None,
    calling_window: CallingWindow = CallingWindow(),  # noqa: B008 - frozen models, shown
    suppression: Suppression = Suppression(),  # noqa: B008 - as the form's defaults
    line_types: LineTypes = LineTypes(),  # noqa: B008
    limits: CallLimits = CallLimits(),  # noqa: B008
    retries: CallRetries = CallRetries(),  # noqa: B008
    safety: ExactlyOnceSafety = ExactlyOnceSafety(),  # noqa: B008
    exports: CampaignExports = CampaignExports(),  # noqa: B008
    resume: CrashResume = CrashResume(),  # noqa: B008
) -> CampaignResult:
    """Call every valid, unsuppressed contact inside its calling window; report all outcomes.

    Never dials a number twice for the same campaign and attempt (a retry or a re-run with the
    same ``campaign_id`` adopts the calls already placed), never outside the contact's calling
    hours, never a suppressed number, within the limits of ``limits``.

    Args:
        connection_code: Code of the Casey call_out connection to dial on.
        contacts: Contacts to call, each with a phone_number (E.164, or a national format with
            default_region or the contact's region) and optionally a name, a time zone and
            context for the agent. Prefect caps a run's parameters at 512 KB
            (about 15,000 contacts): above that, use staged_contacts or contacts_file.
        contacts_file: CSV, JSON or JSONL file of contacts (columns phone_number, name,
            timezone, region, participant_id, context.*): a path, or a URL every worker can read
            (s3://, gs://, file://). May be combined with contacts.
        staged_contacts: Contacts an upstream flow staged with stage_contacts: the reference
            it returned (where, how many rows, checksum), any number of rows. May be combined
            with the other two.
        contacts_query: Contacts from a SQL query, through a saved Prefect database block
            (SQLAlchemy, Snowflake, BigQuery) or on the embedded warehouse sync_calls loads;
            the same columns as contacts_file. Read once, before anyone is dialled. May be
            combined with contacts and contacts_file.
        campaign_id: Names the campaign: every call carries it, and a re-run with the same id
            dials nobody twice. Empty: the deployment's name and scheduled day.
        dry_run: Validate and plan only: dial nobody, publish who would be called when, and
            an ETA.
        credentials_block: Name of the Casey Credentials block that holds the API key.
        default_region: ISO 3166-1 alpha-2 code (e.g. US, DE) of the country whose national
            formats are read, in contacts and suppression lists alike: (202) 555-0100 in US is
            dialled as +12025550100. A contact's own region column wins. Empty: every number
            needs its leading + and country code (nothing is guessed).
        calling_window: Calling hours, in each contact's own time zone (the window's zone
            for contacts without one). Outside them a contact is deferred, not dialled.
        suppression: Numbers never to call: a list, a file, opt-outs loaded by sync_calls.
        line_types: Dial only some line types (e.g. mobile) or never some, by libphonenumber's
            type of each number; left-out contacts are counted as excluded, with the reason. A
            convenience, not a consent check: libphonenumber cannot tell US and Canadian mobiles
            from landlines and knows nothing of porting.
        limits: Concurrent calls, request rate, a shared concurrency limit, and how long and
            how often calls are watched.
        retries: Outcomes dialled again (e.g. no_answer, busy), how often and after how long.
        safety: The exactly-once machinery: how far back the ledger is read, what happens
            after a create that may have rung, waiting for another run of this campaign, the
            grace after a cancel.
        exports: The CSV of every outcome (written as they happen; without a path, a
            temporary file on the worker), and Prefect events per call.
        resume: Set by the crash-resume automation when it restarts a crashed run; leave it
            alone (max_resumes caps the automatic resumes).

    Returns:
        A ``CampaignResult``: exact counts by outcome (completed, no_answer, deferred,
        suppressed, rejected, error, ...) and warnings; the ``ContactOutcome`` of every contact
        up to 10,000 contacts, above that the first 5,000 and every problem (error,
        unconfirmed, still_open, dialled twice); and ``outcomes_csv``, the CSV of them all.
        The UI shows a progress artifact, an outcome table and a summary; the final state
        message gives the counts.

    Example:
        ```python
        from casey_flows import CallingWindow, CallLimits, call_campaign

        result = await call_campaign(
            connection_code="demo-outbound",
            contacts_file="contacts.csv",
            campaign_id="reminders-2026-11-27",
            calling_window=CallingWindow(start="09:00", end="20:00", timezone="America/New_York"),
            limits=CallLimits(max_concurrent_calls=5),
        )
        print(result.summary_table())
        ```
    """
    logger = get_run_logger()
    if resume.resume_of:  # started by the crash trigger: the crashed run's campaign, as it was
        parameters = await _resumed(resume)
        logger.warning(
            "resuming campaign %s of crashed run %s (resume %d of at most %d): adopting what it "
            "dialled",
            parameters["campaign_id"],
            resume.resume_of,
            resume.resume_count,
            parameters["resume"].max_resumes,
        )
        return await call_campaign.fn(**parameters)
    campaign_id = campaign_id or default_campaign_id()
    # Every final outcome goes to the CSV as it happens; the result keeps counts and a sample.
    outcomes = OutcomeLog(
        exports.csv_path,
        full_numbers=exports.full_numbers,
        raw_cells=exports.raw_cells,
        name=campaign_id,
    )
    suppressed = LiveSuppression(
        partial(_read_suppression, suppression, connection_code, default_region),
        refresh_seconds=suppression.refresh_seconds,
        max_stale_seconds=suppression.max_stale_seconds,
    )
    with outcomes:
        async with contact_stream(  # a file or a query that cannot be read fails the run here
            contacts,
            contacts_file,
            staged_contacts,
            contacts_query,
            calling_window.timezone,
            default_region,
        ) as stream:
            return await _screen_and_dial(
                campaign_id,
                Screening(stream, suppressed, outcomes, line_types),
                connection_code=connection_code,
                dry_run=dry_run,
                credentials_block=credentials_block,
                calling_window=calling_window,
                limits=limits,
                retries=retries,
                safety=safety,
                exports=exports,
            )


async def _screen_and_dial(
    campaign_id: str,
    screening: Screening,
    *,
    connection_code: str,
    dry_run: bool,
    credentials_block: str,
    calling_window: CallingWindow,
    limits: CallLimits,
    retries: CallRetries,
    safety: ExactlyOnceSafety,
    exports: CampaignExports,
) -> CampaignResult:
    """``call_campaign``'s work: read the suppression list, then plan or dial the screened
    contacts, every final outcome into the screening's outcome log; publish the result."""
    logger = get_run_logger()
    live_suppression = screening.suppression
    outcome_log = screening.outcome_log
    with forwarding() as read_warnings:
        await live_suppression.refresh()  # unreadable: the run fails before anyone is dialled
    for message in live_suppression.rejected:
        logger.warning("suppression entry ignored: %s", message)
    result = CampaignResult(
        campaign_id=campaign_id,
        connection_code=connection_code,
        dry_run=dry_run,
        warnings=live_suppression.rejected + read_warnings,
    )
    credentials = await resolve_credentials(credentials_block)  # once per run
    polls = _poll_policy(limits.poll_interval_seconds)  # the preview plans as the engine polls
    if dry_run:
        await check_connection(credentials, connection_code)
        plan = PlanSettings(
            window=calling_window,
            max_concurrent_calls=limits.max_concurrent_calls,
            max_requests_per_second=limits.max_requests_per_second,
            expected_call_seconds=limits.expected_call_seconds,
            poll=polls,
            call_timeout_seconds=limits.call_timeout_seconds,
        )
        assumed = assumptions(
            plan,
            max_attempts=retries.max_attempts,
            retry_outcomes=retries.outcomes,
            retry_delay_seconds=retries.delay_seconds,
            global_concurrency_limit=limits.global_concurrency_limit,
        )
        # A worker thread: a million rows take a while, and the run's loop stays free.
        result.preview = await anyio.to_thread.run_sync(
            partial(
                plan_contacts,
                screening,
                plan,
                max_attempts=retries.max_attempts,
                assumed=assumed,
            )
        )
    else:
        settings = EngineSettings(
            campaign_id=campaign_id,
            connection_code=connection_code,
            window=calling_window,
            max_concurrent_calls=limits.max_concurrent_calls,
            retry_outcomes=frozenset(retries.outcomes),
            max_attempts=retries.max_attempts,
            retry_delay_seconds=retries.delay_seconds,
            call_timeout_seconds=limits.call_timeout_seconds,
            redial=RedialRule(
                after_seconds=safety.redial_after_seconds, redial=safety.redial_unconfirmed
            ),
            cancel_grace_seconds=safety.cancel_grace_seconds,
            poll=polls,
        )
        since = datetime.now(timezone.utc) - timedelta(hours=safety.ledger_lookback_hours)
        try:
            async with campaign_lease(campaign_id, safety.lease_wait_seconds):
                await dial_contacts(
                    credentials,
                    screening,
                    settings,
                    max_requests_per_second=limits.max_requests_per_second,
                    global_concurrency_limit=limits.global_concurrency_limit,
                    ledger_since=since,
                    emit_call_events=exports.call_events,
                    suppression=live_suppression,
                )
        except STOP_SIGNALS:  # cancelled: report who was called, then end the run Cancelled
            logger.warning("campaign %s stopped: publishing who was called", campaign_id)
            unread = screening.not_dialled()  # never read: written, not built as objects
            _sum_up(result, screening)
            result.warnings.append(
                f"stopped before the end (cancelled): see 'not_dialled' ({unread} contacts "
                "were never read)"
            )
            await asyncio.shield(_publish(outcome_log.fill(result)))
            raise
    _sum_up(result, screening)
    await _publish(outcome_log.fill(result))
    emit_event(
        event="casey.campaign.completed",
        resource={"prefect.resource.id": f"casey.campaign.{campaign_id}"},
        related=related_resources(connection_code, None),
        payload={"counts": result.counts, "dry_run": dry_run},
    )
    message = result.counts_in_words() or "no contacts"
    if result.preview is not None:
        message = result.preview.headline()
    if result.dialled_twice:  # never silent: the one thing a campaign must not do
        message += f"; {len(result.dialled_twice)} dialled more than once (see duplicate_call_ids)"
    errors = result.by_outcome(Outcome.ERROR)  # every error is kept
    if errors:  # "3 error" alone sends people digging; the first reason usually says it all
        message += f"; first error: {errors[0].reason}"
    # A returned State is unwrapped by Prefect: the caller gets its data, as annotated.
    return Completed(message=message, data=result)  # type: ignore[return-value]


async def _publish(result: CampaignResult) -> None:
    """The outcome table and summary artifacts (the CSV is written as outcomes happen)."""
    get_run_logger().info(
        "%d outcomes in %s%s",
        result.total,
        result.outcomes_csv,
        " (a temporary file on this worker)" if result.outcomes_csv_temporary else "",
    )
    await publish_results(result)


async def _resumed(resume: CrashResume) -> dict[str, Any]:
    """The crashed run's parameters (grouped, if it ran before the grouping), validated, with
    its campaign id made explicit and this resume counted against its own ``max_resumes``.

    Raises:
        ResumeLimitReached: ``resume.resume_count`` is past the crashed run's ``max_resumes``.
    """
    assert resume.resume_of is not None
    parameters = grouped_parameters(await crashed_run_parameters(resume.resume_of))
    max_resumes = CrashResume.model_validate(parameters.get("resume") or {}).max_resumes
    check_resume_limit(resume.resume_of, resume.resume_count, max_resumes)
    parameters["resume"] = {"resume_count": resume.resume_count, "max_resumes": max_resumes}
    return call_campaign.validate_parameters(parameters)


def _log_track(outcome_log: OutcomeLog) -> Callable[[Track], None]:
    """The engine's ``on_outcome``: a track's final outcome into the log."""

    def log(track: Track) -> None:
        if track.outcome is not None:
            outcome_log.add(track.outcome)

    return log


def _progress(screening: Screening, reporter: ProgressReporter) -> Callable[..., None]:
    """The engine's ``on_progress``: the outcomes CSV flushed (rows added in a burst are
    readable within a poll), and the progress of every contact, rejected and suppressed ones
    too: "n of at least m" while the sources are still being read."""

    def progress(*_engine_counts: object) -> None:
        screening.outcome_log.flush()
        total, known = screening.to_come
        reporter.update(screening.outcome_log.total, total, total_known=known)

    return progress


def _sum_up(result: CampaignResult, screening: Screening) -> None:
    """What only the end of the sources tells (duplicates, what the loaders noticed) into the
    result, and the rows read into the run's log."""
    stream = screening.stream
    result.duplicates = stream.duplicates
    result.warnings[:0] = stream.warnings
    get_run_logger().info(
        "campaign %s: %d rows read, %d contacts; %d rejected rows, %d suppressed (%d opted "
        "out), %d excluded by line type, %d duplicates collapsed",
        result.campaign_id,
        stream.total_rows,
        stream.contacts,
        screening.rejected,
        screening.suppressed,
        screening.opted_out,
        screening.excluded,
        stream.duplicates,
    )


def _poll_policy(poll_interval_seconds: float) -> WaitPolicy:
    """How the engine polls: from poll_interval_seconds, backing off to 10 s while idle."""
    return WaitPolicy(
        min_poll_seconds=poll_interval_seconds,
        max_poll_seconds=max(poll_interval_seconds, 10.0),
    )
