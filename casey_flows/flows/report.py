"""The ``call_report`` flow: a connection's calls as a table artifact and a CSV, for data teams.

The artifact is for people in the Prefect UI, so it always shows masked numbers. The CSV is the
user's own data export, written to a path they chose; it carries full numbers only when asked
(``full_numbers=True``), because downstream joins (CRM, warehouse) need the real number.
"""

# Annotations are evaluated, not deferred: a served run gets this flow cloudpickled by value
# (see casey_flows/flows/__init__.py).
from datetime import datetime, timedelta, timezone
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.client import Call, mask_phone, normalize_status
from casey_flows.client.recent import as_utc, recent_call_pages
from casey_flows.core.dispatch import dispatch_key_of
from casey_flows.exports import REPORT_COLUMNS, artifact_key, md_literal, write_csv
from casey_flows.run_logs import forwards_logs
from casey_flows.tasks.calls import Credentials, casey_client


class ReportRow(BaseModel):
    """One call as the report shows it. ``phone_number`` is masked unless the caller chose not."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    created_at: str
    phone_number: str
    name: str
    status: str
    ended_reason: str
    conversation_id: str
    phone_call_provider: str
    connection_code: str
    dispatch_key: str

    @classmethod
    def from_call(cls, call: Call, *, full_number: bool = False) -> "ReportRow":
        number = call.phone_number or ""
        return cls(
            call_id=call.id,
            created_at=call.created_at_raw or "",
            phone_number=number if full_number else mask_phone(number),
            name=call.name or "",
            status=call.status or "",
            ended_reason=call.ended_reason or "",
            conversation_id=call.conversation_id or "",
            phone_call_provider=call.phone_call_provider or "",
            connection_code=call.connection_code or "",
            dispatch_key=dispatch_key_of(call) or "",
        )


def report_artifact_key(connection_code: str) -> str:
    """``casey-call-report-<connection>``: one key per connection, so the UI keeps its history."""
    return artifact_key("call-report", connection_code)


@task(name="fetch-calls", cache_policy=NO_CACHE)
async def fetch_calls(
    credentials: Credentials,
    connection_code: str,
    *,
    status: str | None = None,
    since: datetime | None = None,
    max_calls: int = 10_000,
) -> list[Call]:
    """The connection's calls, newest first, stopping at the first one older than ``since``.

    The status is sent in our normalised spelling and checked again here, since the API's
    filter is undocumented free text. Stopping early assumes newest-first lists (the sandbox's
    order; the real API's is undocumented). Calls without a parseable ``created_at`` are kept:
    we cannot tell their age.
    """
    wanted = normalize_status(status) if status else None
    found: list[Call] = []
    async with casey_client(credentials) as client:
        pages = recent_call_pages(client, connection_code, cutoff=since, stop="call", status=wanted)
        async for page in pages:
            found += [c for c in page if wanted is None or c.normalized_status == wanted]
            if len(found) >= max_calls:
                return found[:max_calls]
    return found


@task(name="write-report-csv", cache_policy=NO_CACHE)
def write_report_csv(rows: list[ReportRow], csv_path: str, raw_cells: bool = False) -> str:
    """Write the rows to ``csv_path`` (parents created); returns the absolute path."""
    dumped = (row.model_dump() for row in rows)
    return str(write_csv(csv_path, REPORT_COLUMNS, dumped, neutralize_formulas=not raw_cells))


def _run_name() -> str:
    return f"report {flow_run.parameters.get('connection_code', '')}"


@forwards_logs
@flow(name="call-report", flow_run_name=_run_name)
async def call_report(
    connection_code: str,
    credentials_block: str = DEFAULT_BLOCK_NAME,
    status: str | None = None,
    since: datetime | None = None,
    last_hours: Annotated[float | None, Field(gt=0)] = None,
    max_calls: Annotated[int, Field(gt=0)] = 10_000,
    csv_path: str | None = None,
    raw_cells: bool = False,
    full_numbers: bool = False,
) -> list[ReportRow]:
    """List a connection's calls, publish a masked table artifact and optionally a CSV.

    The CSV at ``csv_path`` is the user's data export: with ``full_numbers=True`` it holds full
    phone numbers (keep it where such data may live); otherwise numbers are masked there too.

    Args:
        connection_code: Code of the Casey connection to report on.
        credentials_block: Name of the Casey Credentials block that holds the API key.
        status: Only calls with this status (e.g. completed, no_answer). Empty: all.
        since: Only calls created at or after this instant (UTC if no zone is given).
        last_hours: Only calls created in the last N hours (for schedules); with since too,
            the narrower of the two.
        max_calls: Stop reading after this many calls, newest first.
        csv_path: Also write the rows to this CSV file (a path on the worker).
        raw_cells: Write CSV cells exactly as they are, including text a spreadsheet would run
            as a formula (=, +, -, @): only for files loaded into a database.
        full_numbers: Write full phone numbers to the CSV (the artifact stays masked).

    Returns:
        The rows with masked numbers, so nothing persisted by Prefect holds a full number.

    Example:
        ```python
        from casey_flows import call_report

        rows = await call_report(connection_code="demo-outbound", last_hours=24)
        ```
    """
    logger = get_run_logger()
    if last_hours is not None:  # with since too, the narrower of the two
        recent = datetime.now(timezone.utc) - timedelta(hours=last_hours)
        since = recent if since is None else max(as_utc(since), recent)
    calls = await fetch_calls(
        credentials_block, connection_code, status=status, since=since, max_calls=max_calls
    )
    rows = [ReportRow.from_call(call) for call in calls]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status or "unknown"] = counts.get(row.status or "unknown", 0) + 1
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no calls"
    await acreate_table_artifact(
        table=[row.model_dump() for row in rows],
        key=report_artifact_key(connection_code),
        description=f"{len(rows)} calls of {md_literal(connection_code)} ({md_literal(by_status)})",
    )
    if csv_path:
        export = [ReportRow.from_call(call, full_number=full_numbers) for call in calls]
        written = write_report_csv(export, csv_path, raw_cells)
        logger.info("wrote %d calls to %s", len(export), written)
    logger.info("%d calls of %s (%s)", len(rows), connection_code, by_status)
    return rows
