"""What a campaign shows people: progress, a table of outcomes, a summary.

Artifacts show masked numbers. The outcomes CSV is written as outcomes happen
(``casey_flows.campaign.outcome_log``); it is the user's own data file and carries full numbers
only when asked to (``full_numbers=True``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from datetime import timezone
from uuid import UUID

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.events import emit_event
from prefect.logging import get_run_logger

from casey_flows.campaign.models import (
    CampaignPreview,
    CampaignResult,
    ContactOutcome,
    day_label,
    describe_seconds,
)
from casey_flows.campaign.outcome_log import KEEP_FIRST, outcome_row
from casey_flows.campaign.outcomes import outcome_label
from casey_flows.exports import artifact_key, md_literal

logger = logging.getLogger(__name__)

# The table artifact shows at most this many outcomes (the result keeps at least as many)...
TABLE_ROW_LIMIT = KEEP_FIRST
# ...and at most this much JSON: Prefect's server copies an artifact's data into its
# artifact-collection event and refuses events over 1.5 MB (PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_
# BYTES), logging "Refusing to publish event": 5,000 rows are ~2 MB.
TABLE_MAX_BYTES = 1_000_000


# One casey.campaign.progress event at most this often: automations see a campaign move without
# an event per call (a write each in the Prefect server).
PROGRESS_EVENT_SECONDS = 30.0


class ProgressReporter:
    """A progress artifact, updated when another whole percent of the contacts has an outcome
    and at most once a ``min_interval`` (the UI polls anyway), and a ``casey.campaign.progress``
    event at most once a ``PROGRESS_EVENT_SECONDS``.

    Each update is a write in the Prefect server (~5 ms of its CPU): by the percent, a campaign
    of any size and length costs at most ~100 of them, not one a second.

    Updates run in the background, one at a time, so a slow Prefect API never delays the
    campaign's next poll; ``finish`` waits for the last one.
    """

    def __init__(self, campaign_id: str, min_interval: float = 1.0) -> None:
        self.campaign_id = campaign_id
        self.min_interval = min_interval
        self._artifact_id: UUID | None = None
        self._last_event = time.monotonic()
        self._last = 0.0
        self._last_value = -1.0
        self._last_percent = -1
        self._sending: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._artifact_id = await acreate_progress_artifact(
            progress=0.0,
            key=artifact_key("campaign-progress", self.campaign_id),
            description=f"Contacts with a final outcome in campaign {md_literal(self.campaign_id)}",
        )

    def update(self, finished: int, total: int, *, total_known: bool = True) -> None:
        """Send the new value unless one is in flight, it is in the whole percent sent last, or
        it is too soon.

        ``total_known`` False: ``total`` is a floor (contacts read so far, more to come), and
        the log and the event say "``finished`` of at least ``total``".
        """
        value = self._value(finished, total)
        now = time.monotonic()
        if now - self._last_event >= PROGRESS_EVENT_SECONDS:
            self._last_event = now
            emit_event(
                event="casey.campaign.progress",
                resource={"prefect.resource.id": f"casey.campaign.{self.campaign_id}"},
                payload={"finished": finished, "total": total, "total_known": total_known},
            )
            get_run_logger().info(  # the run's log: a person watching sees it move
                "campaign %s: %d of %s%d contacts have an outcome",
                self.campaign_id,
                finished,
                "" if total_known else "at least ",
                total,
            )
        percent = math.floor(value)
        if self._artifact_id is None or percent == self._last_percent:
            return
        if now - self._last < self.min_interval or (self._sending and not self._sending.done()):
            return
        self._last, self._last_value, self._last_percent = now, value, percent
        self._sending = asyncio.create_task(self._send(value))

    async def finish(self, finished: int, total: int) -> None:
        """Wait for any update in flight, then send the final value."""
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)
        value = self._value(finished, total)
        if self._artifact_id is not None and value != self._last_value:
            self._last_value = value
            await self._send(value)

    @staticmethod
    def _value(finished: int, total: int) -> float:
        return 100.0 * finished / total if total else 100.0

    async def _send(self, value: float) -> None:
        assert self._artifact_id is not None
        try:
            await aupdate_progress_artifact(self._artifact_id, progress=value)
        except Exception as exc:  # progress is a courtesy; never fail a campaign over it
            logger.warning("progress artifact update failed: %s", exc)


def summary_markdown(
    result: CampaignResult, *, label: str | None = None, note: str | None = None
) -> str:
    """Counts by outcome and ended_reason, the contacts dialled twice, the warnings.

    ``label`` names what kind of report this is in the heading (ours, plain words); ``note`` is
    a paragraph under it (markdown the caller made safe).
    """
    flavour = " (dry run)" if result.dry_run else ""
    flavour += f" ({label})" if label else ""
    lines = [f"# Campaign {md_literal(result.campaign_id)}{flavour}", ""]
    if note:
        lines += [note, ""]
    lines += [
        f"Connection {md_literal(result.connection_code)}: {result.total} contacts, "
        f"{result.duplicates} duplicate rows collapsed.",
        "",
        "| outcome | contacts |",
        "|---|---:|",
    ]
    lines += [
        f"| {md_literal(outcome_label(value))} | {count} |"
        for value, count in result.counts.items()
    ]
    if result.preview is not None:
        lines += preview_markdown(result.preview)
    if result.ended_reasons:
        lines += ["", "| ended_reason | contacts |", "|---|---:|"]
        lines += [f"| {md_literal(name)} | {n} |" for name, n in result.ended_reasons.items()]
    twice = result.dialled_twice
    if twice:
        lines += ["", f"**{len(twice)} contact(s) dialled more than once** (one dispatch key, "]
        lines[-1] += "several calls; see duplicate_call_ids):"
        lines += [
            f"- {o.masked_phone}: {md_literal(' '.join(o.call_ids + o.duplicate_call_ids))}"
            for o in twice
        ]
    if result.warnings:
        lines += ["", "**Warnings**", ""] + [f"- {md_literal(w)}" for w in result.warnings]
    lines += ["", csv_markdown(result)]
    return "\n".join(lines) + "\n"


def csv_markdown(result: CampaignResult) -> str:
    """Where every outcome is, and how much of it the result holds."""
    if result.outcomes_csv is None:
        return f"The result holds all {result.total} outcomes (no CSV written)."
    where = md_literal(result.outcomes_csv)
    if result.outcomes_csv_temporary:
        where += " (a temporary file on the worker: copy it before the worker goes)"
    if result.outcomes_complete:
        held = f"all {result.total} outcomes"
    else:
        held = (
            f"{len(result.outcomes)} of the {result.total} outcomes (the first "
            f"{KEEP_FIRST} and every problem)"
        )
    return f"Every outcome is in the CSV {where}; the result holds {held}."


def preview_markdown(preview: CampaignPreview) -> list[str]:
    """A dry run's plan: who this run would call, done by when, and what that assumes."""
    done_by = preview.done_by(with_date=True)
    took = f", ~{describe_seconds(preview.makespan_seconds)} after the plan" if done_by else ""
    lines = [
        "",
        f"## Preview (planned {preview.as_of.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- **Would be called by this run**: {preview.dialled_now}",
        f"- **Done by** (the last call ends): {done_by or 'nobody to call'}{took}",
        f"- **Deferred** (window closed at their turn): {preview.deferred}",
        f"- **Suppressed**: {preview.suppressed}; **excluded by line type**: "
        f"{preview.excluded}; **rejected**: {preview.rejected}",
    ]
    if preview.deferred_by_day:
        lines += ["", "| deferred to (contact's own date) | contacts |", "|---|---:|"]
        lines += [f"| {day_label(d)} | {n} |" for d, n in preview.deferred_by_day.items()]
    if preview.assumptions:
        lines += ["", "The ETA assumes:", ""] + [f"- {md_literal(a)}" for a in preview.assumptions]
    return lines


def table_rows(outcomes: list[ContactOutcome]) -> list[dict[str, object]]:
    """The first outcomes as masked rows, as many as fit the table's limits."""
    rows: list[dict[str, object]] = []
    size = 0
    for outcome in outcomes[:TABLE_ROW_LIMIT]:
        row = outcome_row(outcome, full_numbers=False)
        size += len(json.dumps(row, default=str)) + 2  # and the ", " between rows
        if size > TABLE_MAX_BYTES:
            break
        rows.append(row)
    return rows


async def publish_results(
    result: CampaignResult,
    *,
    kind: str = "campaign",
    label: str | None = None,
    note: str | None = None,
) -> None:
    """The outcome table (masked, capped) and the markdown summary, as flow-run artifacts.

    Keyed ``casey-<kind>-outcomes-<campaign>`` and ``casey-<kind>-summary-<campaign>``: another
    report on the same campaign (``kind="campaign-status"``) keeps a history of its own instead
    of becoming the latest version of the campaign's table. ``label`` and ``note``: see
    :func:`summary_markdown`.
    """
    rows = table_rows(result.outcomes)
    shown = f"first {len(rows)} of " if len(rows) < result.total else ""
    await acreate_table_artifact(
        table=rows,
        key=artifact_key(f"{kind}-outcomes", result.campaign_id),
        description=f"Outcomes{f' ({label})' if label else ''} ({shown}{result.total} "
        "contacts; every one in the outcomes CSV), numbers masked",
    )
    await acreate_markdown_artifact(
        summary_markdown(result, label=label, note=note),
        key=artifact_key(f"{kind}-summary", result.campaign_id),
        description="Counts by outcome and ended_reason",
    )
