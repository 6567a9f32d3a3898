"""What casey-flows writes for people to open: CSV files and artifact keys, in one place.

Every CSV the library writes goes through :func:`write_csv`, with its columns named here, so a
rule about what may appear in a cell is made once. Artifact keys go through :func:`artifact_key`
(Prefect allows lowercase letters, digits and dashes only).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# A campaign's outcomes, one row per contact (``export_csv_path``).
OUTCOME_COLUMNS = (
    "row",
    "phone_number",
    "name",
    "outcome",
    "status",
    "ended_reason",
    "attempts",
    "call_ids",
    "next_call_at",
    "reason",
    "duplicate_call_ids",
)

# ``call_report``'s rows, one per call.
REPORT_COLUMNS = (
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

ARTIFACT_KEY_MAX = 120


def artifact_key(kind: str, name: str) -> str:
    """``casey-<kind>-<name as a slug>``, e.g. ``casey-campaign-outcomes-reminders-2026-11-27``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed"
    return f"casey-{kind}-{slug}"[:ARTIFACT_KEY_MAX].rstrip("-")


def write_csv(path: str | Path, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``rows`` under a header of ``columns`` (parent folders created); the absolute path."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return target
