"""Campaign parameters that make the tests' campaigns quick against the sandbox."""

from __future__ import annotations

from typing import Any

from casey_flows.campaign.calling_window import CallingWindow

ALWAYS_OPEN = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
FAST: dict[str, Any] = {
    "calling_window": ALWAYS_OPEN,
    "limits": {"poll_interval_seconds": 0.2, "max_requests_per_second": 200.0},
    "exports": {"call_events": "none"},
    # The sandbox's list does not lag unless a test says so: re-dial after 2 s, not 90.
    "safety": {"redial_after_seconds": 2.0},
}


def with_fast(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` over ``FAST``, a group given in both merged field by field (a group passed as
    is replaces the whole group: the test's limits would drop FAST's fast polls)."""
    merged = {**FAST, **params}
    for group, fields in FAST.items():
        if isinstance(fields, dict) and isinstance(params.get(group), dict):
            merged[group] = {**fields, **params[group]}
    return merged
