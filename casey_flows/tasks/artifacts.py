"""Markdown a person reads in the Prefect UI. Numbers are always masked."""

from __future__ import annotations

from casey_flows.client import Call, mask_phone


def call_summary_markdown(call: Call, outcome: str) -> str:
    rows = [
        ("Outcome", outcome),
        ("Number", mask_phone(call.phone_number or "")),
        ("Call id", f"`{call.id}`"),
        ("Connection", call.connection_code or ""),
        ("Status", call.status or ""),
        ("Ended reason", call.ended_reason or ""),
        ("Conversation", f"`{call.conversation_id}`" if call.conversation_id else ""),
        ("Created", call.created_at_raw or ""),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"# Casey call: {outcome}\n\n| | |\n|---|---|\n{table}\n"
