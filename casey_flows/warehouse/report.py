"""What a sync did, for the run's return value and its markdown artifact."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from casey_flows.exports import md_literal

_INTERNAL = "_dlt"


class SyncSummary(BaseModel):
    """Small on purpose: it is the flow's return value and lands in the Prefect database."""

    destination: str
    dataset_name: str
    rows: dict[str, int] = Field(description="Rows loaded this run, per table.")
    new_columns: dict[str, list[str]] = Field(
        default_factory=dict, description="Columns this run added, per table (schema changes)."
    )
    seconds: float
    warnings: list[str] = Field(default_factory=list)


def join_query(dataset_name: str) -> str:
    """The query a data team starts from: call outcomes against what people answered."""
    return (
        "SELECT c.campaign_id, c.outcome, a.appointment_confirmed, count(*) AS calls\n"
        f"FROM {dataset_name}.calls AS c\n"
        f"LEFT JOIN {dataset_name}.conversation_answers AS a "
        "ON a.conversation_id = c.conversation_id\n"
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;"
    )


def summarize(
    pipeline: Any, load_info: Any, destination: str, dataset_name: str, seconds: float
) -> SyncSummary:
    """Rows per table from the normalize step; new columns from the packages' schema updates."""
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    new_columns: dict[str, list[str]] = {}
    for package in load_info.load_packages:
        for table, update in (package.schema_update or {}).items():
            if table.startswith(_INTERNAL):
                continue
            added = [c for c in update.get("columns", {}) if not c.startswith(_INTERNAL)]
            if added:
                new_columns.setdefault(table, []).extend(added)
    return SyncSummary(
        destination=destination,
        dataset_name=dataset_name,
        rows={t: n for t, n in sorted(counts.items()) if not t.startswith(_INTERNAL)},
        new_columns=new_columns,
        seconds=round(seconds, 2),
    )


def summary_markdown(summary: SyncSummary) -> str:
    """The artifact: rows per table, new columns, duration, warnings, and the join to start from."""
    lines = [
        f"# Casey sync into {md_literal(summary.destination)} / {md_literal(summary.dataset_name)}",
        "",
        f"Took {summary.seconds:.1f} s.",
        "",
        "| table | rows loaded |",
        "|---|---:|",
        *(f"| {md_literal(t)} | {n} |" for t, n in summary.rows.items()),
    ]
    if not summary.rows:
        lines.append("| (nothing new) | 0 |")
    if summary.new_columns:
        lines += ["", "## New columns", ""]
        lines += [
            f"- {md_literal(t)}: {', '.join(md_literal(c) for c in cols)}"
            for t, cols in summary.new_columns.items()
        ]
    if summary.warnings:
        lines += ["", "## Warnings", "", *(f"- {md_literal(w)}" for w in summary.warnings)]
    lines += [
        "",
        "## Calls joined to answers",
        "",
        "```sql",
        join_query(summary.dataset_name),
        "```",
    ]
    return "\n".join(lines)
