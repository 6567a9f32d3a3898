"""Prefect tasks around single calls, and what they rest on: dispatch keys, waiting, events.

Compose them in your own flows; each takes the ``CaseyCredentials`` block (or its name).
"""

from casey_flows.tasks.calls import create_call, get_call, list_calls, wait_for_call, wait_for_calls

__all__ = ["create_call", "get_call", "list_calls", "wait_for_call", "wait_for_calls"]
