"""Flow parameters that end in a second or two against the test sandbox: magic numbers, a
calling window that is always open, fast polls."""

from __future__ import annotations

from casey_flows.sandbox.embedded import EmbeddedSandbox

ALWAYS_OPEN = {"start": "00:00:00", "end": "23:59:59", "days": list(range(7)), "timezone": "UTC"}


def campaign_parameters(sandbox: EmbeddedSandbox, campaign_id: str, numbers: list[str]) -> dict:
    return {
        "connection_code": sandbox.call_out_connection,
        "campaign_id": campaign_id,
        "contacts": [{"phone_number": n} for n in numbers],
        "calling_window": ALWAYS_OPEN,
        "limits": {"poll_interval_seconds": 0.3},
    }
