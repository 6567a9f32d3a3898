"""The ``call_report`` flow: a connection's calls as a table artifact and a CSV, for data teams.

The artifact is for people in the Prefect UI, so it always shows masked numbers. The CSV is the
user's own data export, written to a path they chose; it carries full numbers only when asked
(``full_numbers=True``), because downstream joins (CRM, warehouse) need the real number.
"""

# Annotations are evaluated, not deferred: a served run gets this flow cloudpickled by value
# (see casey_flows/flows/__init__.py).
import csv
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.client import Call, mask_phone, normalize_status
from casey_flows.tasks.calls import casey_client
from casey_flows.tasks.dispatch import dispatch_key_of

CSV_COLUMNS = (
    "call_id",
    "created_at",
    "phone_number",
    "name",
    "status",
    "ended_reason",
    "conversation_id",
    "phone_call_provider",
    "connection_code",
    "dispatch_key",
)


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


def artifact_key(connection_code: str) -> str:
    """``casey-call-report-<connection>``: Prefect keys allow lowercase letters, digits, dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", connection_code.lower()).strip("-") or "connection"
    return f"casey-call-report-{slug}"


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes from the UI's run form are taken as UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


@task(name="fetch-calls", cache_policy=NO_CACHE)
async def fetch_calls(
    credentials_block: str,
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
    horizon = _as_utc(since) if since is not None else None
    wanted = normalize_status(status) if status else None
    found: list[Call] = []
    async with casey_client(credentials_block) as client:
        async for call in client.iter_calls(connection_code, status=wanted):
            created = call.created_at
            if horizon is not None and created is not None and _as_utc(created) < horizon:
                break
            if wanted is None or call.normalized_status == wanted:
                found.append(call)
            if len(found) >= max_calls:
                break
    return found


@task(name="write-report-csv", cache_policy=NO_CACHE)
def write_report_csv(rows: list[ReportRow], csv_path: str) -> str:
    """Write the rows to ``csv_path`` (parents created); returns the absolute path."""
    path = Path(csv_path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(row.model_dump() for row in rows)
    return str(path)


def _run_name() -> str:
    return f"report {flow_run.parameters.get('connection_code', '')}"


@flow(name="call-report", flow_run_name=_run_name)
async def call_report(
    connection_code: Annotated[str, Field(description="Code of the connection to report on.")],
    credentials_block: Annotated[
        str, Field(description="Name of the Casey Credentials block to use.")
    ] = DEFAULT_BLOCK_NAME,
    status: Annotated[
        str | None, Field(description="Only calls with this status (e.g. completed).")
    ] = None,
    since: Annotated[
        datetime | None, Field(description="Only calls created at or after this (UTC if naive).")
    ] = None,
    last_hours: Annotated[
        float | None,
        Field(gt=0, description="Only calls created in the last N hours (for schedules)."),
    ] = None,
    max_calls: Annotated[int, Field(gt=0, description="Stop after this many calls.")] = 10_000,
    csv_path: Annotated[
        str | None, Field(description="Also write the rows to this CSV file.")
    ] = None,
    full_numbers: Annotated[
        bool,
        Field(description="Write full phone numbers to the CSV (the artifact stays masked)."),
    ] = False,
) -> list[ReportRow]:
    """List a connection's calls, publish a masked table artifact and optionally a CSV.

    The CSV at ``csv_path`` is the user's data export: with ``full_numbers=True`` it holds full
    phone numbers (keep it where such data may live); otherwise numbers are masked there too.
    Returns the rows with masked numbers, so nothing persisted by Prefect holds a full number.
    """
    logger = get_run_logger()
    if last_hours is not None:  # with since too, the narrower of the two
        recent = datetime.now(timezone.utc) - timedelta(hours=last_hours)
        since = recent if since is None else max(_as_utc(since), recent)
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
        key=artifact_key(connection_code),
        description=f"{len(rows)} calls of {connection_code} ({by_status})",
    )
    if csv_path:
        export = [ReportRow.from_call(call, full_number=full_numbers) for call in calls]
        written = write_report_csv(export, csv_path)
        logger.info("wrote %d calls to %s", len(export), written)
    logger.info("%d calls of %s (%s)", len(rows), connection_code, by_status)
    return rows
