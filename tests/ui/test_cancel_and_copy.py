"""Pause and resume a campaign the way a person does it in the UI: cancel a live campaign from
its run page's menu (it ends Cancelled and still publishes its outcome table), then "Copy to new
run" and submit it unchanged: the same campaign id, so the new run adopts what was dialled and
dials only the rest. Dials are counted by the sandbox, states read from the REST API.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from casey_flows import Outcome
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.sandbox.testing import wait_for
from tests.ui.api import title_of
from tests.ui.conftest import UIStack
from tests.ui.pages import PrefectUI

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

DEPLOYMENT = "call-campaign/on-demand"
CAMPAIGN_ID = "ui-pause-and-resume"
# 14 contacts, 2 at a time, ~3 s a call: ~25 s of dialling, so the cancel lands mid-campaign.
NUMBERS = [f"+1312777{i:04d}" for i in range(14)]
ALWAYS_OPEN = {"start": "00:00:00", "end": "23:59:59", "days": list(range(7)), "timezone": "UTC"}
NOT_DIALLED = Outcome.NOT_DIALLED.value


def dials(sandbox: EmbeddedSandbox) -> dict[str, int]:
    """Calls created per number of this campaign, as the sandbox counted them."""
    counts = sandbox.admin.stats()["calls_by_phone"]
    return {n: counts[n] for n in NUMBERS if n in counts}


def wait_for_dials(sandbox: EmbeddedSandbox, at_least: int, timeout: float = 60) -> None:
    wait_for(lambda: len(dials(sandbox)) >= at_least, timeout=timeout, interval=0.2)


def table_rows(artifact: dict[str, Any]) -> list[dict[str, Any]]:
    data = artifact["data"]
    return json.loads(data) if isinstance(data, str) else data


def test_cancel_then_copy_to_new_run_dials_only_the_rest(ui: PrefectUI, ui_stack: UIStack) -> None:
    api, sandbox = ui_stack.api, ui_stack.sandbox
    deployment = api.deployment(DEPLOYMENT)
    schema = deployment["parameter_openapi_schema"]
    parameters = {
        "connection_code": sandbox.call_out_connection,
        "contacts": [{"phone_number": n} for n in NUMBERS],
        "campaign_id": CAMPAIGN_ID,
        "calling_window": ALWAYS_OPEN,
        "limits": {"max_concurrent_calls": 2, "poll_interval_seconds": 0.2},
    }
    first = api.create_flow_run(deployment["id"], parameters)
    wait_for_dials(sandbox, at_least=2)

    # Cancel from the run page's menu; the run ends Cancelled with its outcome table.
    ui.flow_run(first["id"]).cancel()
    cancelled = api.wait_for_state(first["id"], timeout=60)
    assert cancelled["state"]["name"] == "Cancelled", cancelled["state"]["message"]
    dialled = dials(sandbox)
    assert 2 <= len(dialled) < len(NUMBERS), f"the cancel must land mid-campaign: {dialled}"
    assert set(dialled.values()) == {1}

    artifacts = api.artifacts(first["id"])
    table = next(a for a in artifacts if a["type"] == "table")
    rows = table_rows(table)
    assert len(rows) == len(NUMBERS)
    not_dialled = [r for r in rows if r["outcome"] == NOT_DIALLED]
    assert len(not_dialled) == len(NUMBERS) - len(dialled)
    run_page = ui.flow_run(first["id"])
    expect(run_page.artifacts().card(table["key"])).to_be_visible()

    # Copy to new run: the same parameters, the same campaign id; submitted as is.
    form = run_page.copy_to_new_run()
    expect(form.text_of(title_of(schema, "campaign_id"))).to_have_value(CAMPAIGN_ID)
    second = form.submit()
    assert second["id"] != first["id"]
    assert second["parameters"]["campaign_id"] == CAMPAIGN_ID

    done = api.wait_for_state(second["id"], timeout=120)
    assert done["state"]["name"] == "Completed", done["state"]["message"]
    # Everyone called exactly once over the two runs: the second dialled only the rest.
    assert dials(sandbox) == {n: 1 for n in NUMBERS}
    second_rows = table_rows(next(a for a in api.artifacts(second["id"]) if a["type"] == "table"))
    assert not [r for r in second_rows if r["outcome"] == NOT_DIALLED]
