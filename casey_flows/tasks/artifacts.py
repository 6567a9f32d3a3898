"""Markdown a person reads in the Prefect UI. Numbers are always masked; text from the API is
shown literally (``md_literal``), never rendered as links or markup."""

from __future__ import annotations

from casey_flows.client import Call, mask_phone
from casey_flows.exports import md_literal


def call_summary_markdown(call: Call, outcome: str) -> str:
    rows = [
        ("Outcome", outcome),
        ("Number", mask_phone(call.phone_number or "")),
        ("Call id", call.id),
        ("Connection", call.connection_code or ""),
        ("Status", call.status or ""),
        ("Ended reason", call.ended_reason or ""),
        ("Conversation", call.conversation_id or ""),
        ("Created", call.created_at_raw or ""),
    ]
    table = "\n".join(f"| {k} | {md_literal(v)} |" for k, v in rows)
    return f"# Casey call: {md_literal(outcome)}\n\n| | |\n|---|---|\n{table}\n"
