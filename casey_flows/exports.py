"""What casey-flows writes for people to open: CSV files, markdown, artifact keys, in one place.

Every CSV the library writes goes through :func:`write_csv` (or :class:`CsvWriter`, row by
row), with its columns named here, so the rule about what may stand in a cell is made once:
text a spreadsheet would evaluate as a formula (a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return: CSV injection, OWASP) is written with a leading apostrophe, unless
the whole cell has a known safe data shape (an E.164 or masked phone number, a plain number). An
allow-list of shapes, not a list of free-text columns, so a new column is safe by default.
``neutralize_formulas=False`` writes cells as they are, for pipelines that load the CSV into a
database.

Untrusted text placed in markdown artifacts goes through :func:`md_literal`, so a name or a reason
from the API renders as text, never as a link, an image or HTML.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# A campaign's outcomes, one row per contact (``casey_flows.campaign.outcome_log``).
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
    "planned_at",  # dry run only
    "line_type",  # last, so that files read by position keep their columns
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
RAW_CELLS_HELP = (
    "Write CSV cells exactly as they are, including text a spreadsheet would run as a formula "
    "(=, +, -, @): only for files loaded into a database, never opened in a spreadsheet."
)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Cells that start with a trigger but are data: +14155550100, +1•••••0100, -12, -3.5e2.
_SAFE_SHAPES = re.compile(r"\+\d{2,15}|\+\d[•*]+\d{1,4}|[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")


def artifact_key(kind: str, name: str) -> str:
    """``casey-<kind>-<name as a slug>``, e.g. ``casey-campaign-outcomes-reminders-2026-11-27``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed"
    return f"casey-{kind}-{slug}"[:ARTIFACT_KEY_MAX].rstrip("-")


def safe_cell(value: Any) -> Any:
    """``value``, or a text a spreadsheet shows as text when it would run it as a formula."""
    risky = isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)
    return "'" + value if risky and not _SAFE_SHAPES.fullmatch(value) else value


class CsvWriter:
    """A CSV file written row by row under a header of ``columns`` (parent folders created),
    with the cell rule of :func:`write_csv`; for rows that arrive over time (a campaign's
    outcomes as they happen). ``path`` is absolute; ``flush`` makes what was written readable.
    """

    def __init__(
        self, path: str | Path, columns: Iterable[str], *, neutralize_formulas: bool = True
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.neutralize_formulas = neutralize_formulas
        self.rows = 0
        self._handle = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=list(columns))
        self._writer.writeheader()

    def write(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow(
            {k: safe_cell(v) for k, v in row.items()} if self.neutralize_formulas else row
        )
        self.rows += 1

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_csv(
    path: str | Path,
    columns: Iterable[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    neutralize_formulas: bool = True,
) -> Path:
    """Write ``rows`` under a header of ``columns`` (parent folders created); the absolute path.

    Cells that a spreadsheet would evaluate are neutralised unless ``neutralize_formulas`` is
    False (see the module's docstring).
    """
    with CsvWriter(path, columns, neutralize_formulas=neutralize_formulas) as writer:
        for row in rows:
            writer.write(row)
    return writer.path


def md_literal(value: object) -> str:
    """Untrusted text for a markdown artifact: one line, in a code span, so the Prefect UI shows
    it as typed (no link, image, emphasis or HTML); ``|`` escaped so a table cell stays one."""
    text = " ".join(str(value).split())
    if not text:
        return ""
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # A pipe preceded by backslashes must stay escaped: double them, then escape the pipe.
    text = re.sub(r"(\\*)\|", lambda m: m.group(1) * 2 + "\\|", text)
    return f"{fence}{pad}{text}{pad}{fence}"
