"""A campaign in its own process, for tests that kill it or restart what it talks to.

``python -m tests.reliability.campaign_process SPEC.json``. The spec names the contacts file,
connection, block, campaign id and ``limits`` (a CallLimits dict); if it carries ``api_key`` and
``base_url`` the block is saved first (for a Prefect server the test process does not talk to).
The last line on stdout is ``RESULT {json}``: the final state's type and message and every
outcome.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def main(spec_path: str) -> int:
    from casey_flows.campaign.calling_window import CallingWindow
    from casey_flows.flows.campaign import call_campaign

    with open(spec_path, encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    if spec.get("api_key"):
        from casey_flows.blocks import CaseyCredentials

        CaseyCredentials(api_key=spec["api_key"], base_url=spec["base_url"]).save(
            spec["credentials_block"], overwrite=True
        )
    window = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
    state = asyncio.run(
        call_campaign(
            connection_code=spec["connection_code"],
            contacts_file=spec["contacts_file"],
            credentials_block=spec["credentials_block"],
            campaign_id=spec["campaign_id"],
            calling_window=window,
            limits={
                "max_concurrent_calls": 10,
                "max_requests_per_second": 100.0,
                **spec.get("limits", {}),
                "poll_interval_seconds": 0.2,
            },
            exports={"call_events": "none"},
            return_state=True,
        )
    )
    report: dict[str, Any] = {"type": state.type.value, "message": state.message}
    if state.is_completed():
        result = state.result()
        report["outcomes"] = [
            {"phone_number": o.phone_number, "outcome": o.outcome, "call_ids": o.call_ids}
            for o in result.outcomes
        ]
    print("RESULT " + json.dumps(report), flush=True)
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
