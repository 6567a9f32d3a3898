"""A campaign's outcomes as they happen: written to the CSV at once, counted, and let go.

Holding every :class:`~casey_flows.campaign.models.ContactOutcome` (~1.4 KB each) makes memory
grow with the number of contacts. The log writes each final outcome to the outcomes CSV (the
columns, cell rule and masking of every outcome CSV: :class:`casey_flows.exports.CsvWriter`),
counts it, and keeps only what a person looks at in the result:

- every outcome while the campaign has at most ``KEEP_ALL_UP_TO`` contacts;
- above that, the first ``KEEP_FIRST`` outcomes and every problem outcome (``PROBLEM_OUTCOMES``,
  and anyone dialled twice), however many.

The CSV is the full record: at ``path`` when one is given, else a temporary file on the worker
(masked numbers there unless ``full_numbers``). No Prefect here.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.models import CampaignResult, ContactOutcome
from casey_flows.campaign.outcomes import Outcome, outcome_value
from casey_flows.client import mask_phone
from casey_flows.exports import OUTCOME_COLUMNS, CsvWriter

# The result keeps every outcome up to this many contacts...
KEEP_ALL_UP_TO = 10_000
# ...and above it the first this many, plus every problem outcome.
KEEP_FIRST = 5_000
# Outcomes a person must be able to find in the result whatever the campaign's size (and anyone
# dialled twice: ``duplicate_call_ids`` not empty).
PROBLEM_OUTCOMES = frozenset(
    {Outcome.ERROR.value, Outcome.UNCONFIRMED.value, Outcome.STILL_OPEN.value}
)
# Rows written are flushed to the file at least this often (a reader sees them within it).
FLUSH_SECONDS = 1.0
TEMP_PREFIX = "casey-outcomes-"


def is_problem(outcome: ContactOutcome) -> bool:
    """An outcome kept in the result whatever the campaign's size."""
    return bool(outcome.duplicate_call_ids) or outcome_value(outcome.outcome) in PROBLEM_OUTCOMES


def outcome_row(outcome: ContactOutcome, *, full_numbers: bool) -> dict[str, object]:
    """One outcome as a row of ``OUTCOME_COLUMNS`` (masked number unless ``full_numbers``)."""
    return {
        "row": outcome.row,
        "phone_number": outcome.phone_number if full_numbers else mask_phone(outcome.phone_number),
        "name": outcome.name,
        "outcome": outcome_value(outcome.outcome),
        "status": outcome.status,
        "ended_reason": outcome.ended_reason,
        "attempts": outcome.attempts,
        "call_ids": " ".join(outcome.call_ids),
        "next_call_at": outcome.next_call_at.isoformat() if outcome.next_call_at else None,
        "reason": outcome.reason,
        "duplicate_call_ids": " ".join(outcome.duplicate_call_ids),
        "planned_at": outcome.planned_at.isoformat() if outcome.planned_at else None,
        "line_type": outcome.line_type,
    }


class OutcomeLog:
    """Final outcomes, one ``add`` each: to the CSV now, into the counts, kept only if needed.

    Args:
        path: The outcomes CSV. None: a temporary file on the worker, named after ``name``.
        full_numbers: Full phone numbers in the CSV (masked otherwise, the temporary file too).
        raw_cells: Cells as they are, formulas included (see ``casey_flows.exports``).
        name: Goes into the temporary file's name (the campaign id).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        full_numbers: bool = False,
        raw_cells: bool = False,
        name: str = "campaign",
        keep_all_up_to: int = KEEP_ALL_UP_TO,
        keep_first: int = KEEP_FIRST,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.temporary = path is None
        if path is None:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:60] or "campaign"
            handle, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{slug}-", suffix=".csv")
            os.close(handle)
            path = temp
        self.full_numbers = full_numbers
        self.keep_all_up_to = keep_all_up_to
        self.keep_first = keep_first
        self.flush_seconds = flush_seconds
        self.counts: Counter[str] = Counter()
        self.ended_reasons: Counter[str] = Counter()
        self.total = 0
        self._kept: list[ContactOutcome] = []
        self._last_flush = time.monotonic()
        self._writer = CsvWriter(path, OUTCOME_COLUMNS, neutralize_formulas=not raw_cells)

    @property
    def path(self) -> Path:
        """The outcomes CSV (absolute)."""
        return self._writer.path

    @property
    def kept(self) -> list[ContactOutcome]:
        """The outcomes kept (see the module's docstring), in the order they were added."""
        return self._kept

    @property
    def complete(self) -> bool:
        """``kept`` holds every outcome added."""
        return self.total <= self.keep_all_up_to

    def add(self, outcome: ContactOutcome) -> None:
        """One contact's final outcome: written, counted, kept only if it must be."""
        self._write(outcome_row(outcome, full_numbers=self.full_numbers), outcome.ended_reason)
        if self.total <= self.keep_all_up_to:
            self._kept.append(outcome)
        else:
            if self.total == self.keep_all_up_to + 1:  # crossing: the first N and the problems
                first, rest = self._kept[: self.keep_first], self._kept[self.keep_first :]
                self._kept = first + [o for o in rest if is_problem(o)]
            if is_problem(outcome):
                self._kept.append(outcome)

    def add_not_dialled(self, contact: Contact, reason: str) -> None:
        """A contact the campaign never got to (it stopped first): written and counted, its
        outcome built only while the result keeps every outcome (a stop can leave a million)."""
        if self.total < self.keep_all_up_to:
            self.add(ContactOutcome.of(contact, Outcome.NOT_DIALLED, reason=reason))
            return
        phone = contact.phone_number
        row = dict.fromkeys(OUTCOME_COLUMNS)
        row.update(
            phone_number=phone if self.full_numbers else mask_phone(phone),
            name=contact.name,
            outcome=Outcome.NOT_DIALLED.value,
            attempts=0,
            call_ids="",
            reason=reason,
            duplicate_call_ids="",
            line_type=contact.line_type,
        )
        self._write(row, None)

    def _write(self, row: dict[str, object], ended_reason: str | None) -> None:
        self._writer.write(row)
        self.counts[str(row["outcome"])] += 1
        if ended_reason:
            self.ended_reasons[ended_reason] += 1
        self.total += 1
        now = time.monotonic()
        if now - self._last_flush >= self.flush_seconds:
            self._last_flush = now
            self._writer.flush()

    def extend(self, outcomes: Iterable[ContactOutcome]) -> None:
        for outcome in outcomes:
            self.add(outcome)

    def flush(self) -> None:
        """What was added, readable in the file now (nothing to do once closed)."""
        if not self._writer.closed:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the CSV (idempotent); the counts and kept outcomes stay readable."""
        if not self._writer.closed:
            self._writer.close()

    def __enter__(self) -> OutcomeLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fill(self, result: CampaignResult) -> CampaignResult:
        """``result`` with the log's exact counts, kept outcomes and CSV (the CSV is
        flushed first, so the file holds every row the result counts)."""
        if not self._writer.closed:
            self._writer.flush()
        result.counts = dict(self.counts.most_common())
        result.total = self.total
        result.ended_reasons = dict(self.ended_reasons.most_common())
        result.outcomes = list(self._kept)
        result.outcomes_complete = self.complete
        result.outcomes_csv = str(self.path)
        result.outcomes_csv_temporary = self.temporary
        return result
