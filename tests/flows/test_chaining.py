"""Chaining a campaign at any size: a parent flow stages its rows and passes the reference; an
inline list over Prefect's cap fails before any request, without a number in sight."""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import cloudpickle
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.settings import PREFECT_SERVER_API_MAX_PARAMETER_SIZE, temporary_settings

from casey_flows import (
    ContactInput,
    ParametersTooLarge,
    astage_contacts,
    call_campaign,
    campaign_status,
    stage_contacts,
)
from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import ContactBatch
from casey_flows.campaign.outcome_log import KEEP_FIRST
from casey_flows.flows.campaign import contact_stream
from casey_flows.flows.params import PARAMETERS_MAX_BYTES, CappedFlow
from casey_flows.sandbox.embedded import EmbeddedSandbox

pytestmark = pytest.mark.usefixtures("prefect_server")

ALWAYS_OPEN = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
AT_SCALE = 50_000


def phones(count: int, start: int = 2_000_000) -> list[str]:
    """Valid US numbers (+1 202, an exchange not starting with 0 or 1), as many as asked."""
    return [f"+1202{n:07d}" for n in range(start, start + count)]


def test_a_parent_chains_fifty_thousand_staged_contacts_into_a_dry_run(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    @flow(name="stage-then-campaign")
    async def parent(connection_code: str, url: str) -> dict[str, Any]:
        rows = ({"phone_number": p, "name": f"Person {i}"} for i, p in enumerate(phones(AT_SCALE)))
        staged = await astage_contacts(rows, url=url)
        result = await call_campaign(
            connection_code=connection_code,
            staged_contacts=staged,
            credentials_block=credentials_block,
            campaign_id="staged-at-scale",
            dry_run=True,
            calling_window=ALWAYS_OPEN,
        )
        return {
            "staged": staged,
            "counts": result.counts,
            "total": result.total,
            "outcomes": len(result.outcomes),
            "complete": result.outcomes_complete,
            "csv": result.outcomes_csv,
        }

    started = time.monotonic()
    state = asyncio.run(
        parent(clean_sandbox.call_out_connection, (tmp_path / "stage").as_uri(), return_state=True)
    )
    elapsed = time.monotonic() - started
    assert state.is_completed(), state.message
    out = state.result()
    assert out["staged"].rows == AT_SCALE and len(out["staged"].model_dump_json()) < 1024
    # Above KEEP_ALL_UP_TO the result keeps a sample (no problem outcomes in a dry run); every
    # outcome is in the CSV, a temporary file on the worker here.
    assert (out["total"], out["outcomes"], out["complete"]) == (AT_SCALE, KEEP_FIRST, False)
    with open(out["csv"], newline="", encoding="utf-8") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == AT_SCALE
    Path(out["csv"]).unlink()
    assert set(out["counts"]) <= {"planned", "deferred"}
    assert sum(out["counts"].values()) == AT_SCALE
    assert clean_sandbox.admin.stats()["creates_total"] == 0
    print(f"\n50,000 staged contacts, staged and dry-run as a subflow in {elapsed:.1f} s")


async def parent_run_logs(parent_id: UUID, *, until: str) -> list[str]:
    """The parent's log messages through the API, once ``until`` shows (logs are batched)."""
    deadline = time.monotonic() + 15
    async with get_client() as client:
        while True:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[parent_id])), limit=200
            )
            messages = [log.message for log in logs]
            if any(until in m for m in messages) or time.monotonic() > deadline:
                return messages
            await asyncio.sleep(0.3)


def test_an_oversized_inline_subflow_fails_before_any_request_without_a_number() -> None:
    numbers = phones(20_000)

    @flow(name="inline-oversized-parent")
    async def parent() -> None:
        contacts = [ContactInput(phone_number=p, name=f"Person {i}") for i, p in enumerate(numbers)]
        await call_campaign(connection_code="c", contacts=contacts, dry_run=True)

    state = asyncio.run(parent(return_state=True))
    assert state.is_failed()
    with pytest.raises(ParametersTooLarge) as raised:
        state.result()
    message = str(raised.value)
    assert f"{PARAMETERS_MAX_BYTES:,}" in message and "stage_contacts" in message
    assert "staged_contacts" in message and "contacts " in message  # the largest parameter

    parent_id = state.state_details.flow_run_id
    assert parent_id is not None

    async def stored() -> tuple[list[str], int, int]:
        logs = await parent_run_logs(parent_id, until="Finished in state Failed")
        async with get_client() as client:
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[parent_id]))
            )
            children = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
                )
            )
        return logs, len(task_runs), len(children)

    logs, task_runs, children = asyncio.run(stored())
    # Not even the subflow's tracking task run: the check came before the first request.
    assert task_runs == 0 and children == 0
    failure = [m for m in logs if "ParametersTooLarge" in m]
    assert failure and "stage_contacts" in failure[0] and "524,288" in failure[0]
    assert not [m for m in logs if any(p in m for p in numbers[:50] + numbers[-50:])]
    assert not [m for m in logs if "+1202" in m]


def test_the_cap_is_the_servers_setting_and_with_options_keeps_it() -> None:
    contacts = [{"phone_number": p} for p in phones(100)]  # ~4 KB
    renamed = call_campaign.with_options(name="call-campaign-renamed", retries=1)
    assert isinstance(renamed, CappedFlow) and renamed.retries == 1
    assert isinstance(campaign_status, CappedFlow)
    copy = cloudpickle.loads(cloudpickle.dumps(call_campaign))  # as a served run receives it
    with temporary_settings(updates={PREFECT_SERVER_API_MAX_PARAMETER_SIZE: 2048}):
        for capped in (renamed, copy):
            with pytest.raises(ParametersTooLarge, match="than 2,048"):
                asyncio.run(capped(connection_code="c", contacts=contacts))
        with pytest.raises(ParametersTooLarge, match="campaign-status run's parameters"):
            asyncio.run(campaign_status(campaign_id="x", connection_code="c", contacts=contacts))
        with pytest.raises(ParametersTooLarge):  # what the engine calls before creating a run
            copy.serialize_parameters({"connection_code": "c", "contacts": contacts})
    with temporary_settings(updates={PREFECT_SERVER_API_MAX_PARAMETER_SIZE: 0}):  # 0 = no cap
        renamed.serialize_parameters({"connection_code": "c", "contacts": contacts * 200})


def test_staged_contacts_combine_with_a_file_and_a_list(tmp_path: Path) -> None:
    first, second, third, fourth = phones(4)
    contacts_file = tmp_path / "contacts.csv"
    contacts_file.write_text(f"phone_number\n{first}\n{second}\n")
    staged = stage_contacts([{"phone_number": second}, {"phone_number": third}], url=str(tmp_path))
    inline = [ContactInput(phone_number=p) for p in (third, fourth)]

    async def gathered() -> ContactBatch:
        async with contact_stream(inline, str(contacts_file), staged, None, "UTC") as stream:
            return stream.collect()

    batch = asyncio.run(gathered())
    assert [c.phone_number for c in batch.contacts] == [first, second, third, fourth]
    assert batch.duplicates == 2 and batch.total_rows == 6
