"""What the lag-tolerant re-dial rule costs: time to settle an ambiguous create, per case.

For each re-dial setting (seconds, or "never": re-dialling off at the 90 s default) and list lag,
one create that commits then answers 500 (must be adopted once the list shows it) and one that is
lost (must be re-dialled only after the wait), against the sandbox, with a clean create as the
baseline in the same run. Calls ``dispatch_once`` directly (no Prefect): the rule, not the
orchestration, is what is measured.
Prints JSON; ``--redial`` and ``--lag`` take lists.

    .venv/bin/python benchmarks/redial_wait.py --redial 2 10 90 --lag 1 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from typing import Any

from casey_flows.client import AsyncCaseyClient, CallRequest
from casey_flows.core.dispatch import RedialRule, dispatch_once, with_dispatch_key
from casey_flows.exceptions import CreateUnconfirmed
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox


async def settle(sb: EmbeddedSandbox, key: str, rule: RedialRule) -> dict[str, Any]:
    """One dispatch; how long it took, how it ended, what it cost the API."""
    before = sb.admin.stats()
    request = CallRequest.build(phone_number="+14155550100", context=with_dispatch_key(None, key))
    started = time.monotonic()
    async with AsyncCaseyClient(sb.api_key, base_url=sb.base_url) as client:
        try:
            _, adopted, _ = await dispatch_once(
                client, sb.call_out_connection, request, key, check_ledger_first=False, redial=rule
            )
            ended = "adopted" if adopted else "created"
        except CreateUnconfirmed:
            ended = "unconfirmed"
    after = sb.admin.stats()
    return {
        "seconds": round(time.monotonic() - started, 3),
        "ended": ended,
        "creates": after["creates_total"] - before["creates_total"],
        "requests": after["requests_total"] - before["requests_total"],
    }


async def measure(redials: list[float | None], lags: list[float]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with running_sandbox(seed=1, speed=100) as sb:
        for lag in lags:
            for after in redials:
                rule = RedialRule(after_seconds=after or 90.0, redial=after is not None)
                for case, faults in (
                    ("clean", {}),
                    ("committed-then-500", {"next_ambiguous_5xx": 1}),
                    ("lost", {"next_lost_create": 1}),
                ):
                    sb.clean()
                    sb.admin.set_list_lag(lag)
                    sb.admin.set_faults(**faults)
                    key = f"bench-{case}-{lag}-{after}"
                    row = {"list_lag_s": lag, "redial_after_s": after, "case": case}
                    rows.append({**row, **await settle(sb, key, rule)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redial", nargs="+", default=["2", "10", "never"])
    parser.add_argument("--lag", nargs="+", type=float, default=[1.0, 5.0])
    args = parser.parse_args()
    redials = [None if r == "never" else float(r) for r in args.redial]
    rows = asyncio.run(measure(redials, args.lag))
    print(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
