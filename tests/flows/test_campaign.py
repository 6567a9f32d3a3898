"""call_campaign against the sandbox, through a real Prefect server."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.settings import PREFECT_API_URL

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.control import release_campaign_lease
from casey_flows.campaign.models import CampaignResult
from casey_flows.client import Call, CaseyClient
from casey_flows.core.dispatch import dispatch_key_of
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.sandbox.testing import wait_for
from tests.fast_campaign import ALWAYS_OPEN, FAST, with_fast  # noqa: F401 - re-exported

pytestmark = pytest.mark.usefixtures("prefect_server")


def numbers(count: int, start: int = 1000, prefix: str = "+1202555") -> list[str]:
    """Fictional numbers that avoid the sandbox's magic suffixes unless asked for."""
    return [f"{prefix}{start + i:04d}" for i in range(count)]


def run_campaign(sandbox: EmbeddedSandbox, credentials_block: str, **params: Any):
    params = with_fast({"connection_code": sandbox.call_out_connection, **params})
    return asyncio.run(
        call_campaign(
            credentials_block=credentials_block,
            return_state=True,
            **params,
        )
    )


def assert_nobody_dialled_twice_per_key(sandbox: EmbeddedSandbox) -> dict[str, Any]:
    stats = sandbox.admin.stats()
    assert stats["duplicates"]["dispatch_keys"] == {}
    return stats


def test_two_hundred_contacts_mixed_outcomes(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    phones = [*numbers(196), "+12025550100", "+12025550486", "+12025550408", "+12025550555"]
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": p} for p in phones],
        campaign_id="mixed-200",
        limits={"max_concurrent_calls": 10},
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    assert len(result.outcomes) == 200
    assert sum(result.counts.values()) == 200
    stats = assert_nobody_dialled_twice_per_key(clean_sandbox)
    assert set(stats["calls_by_phone"]) == set(phones)
    assert set(stats["calls_by_phone"].values()) == {1}
    assert max(stats["max_in_flight_by_connection"].values()) <= 10
    by_phone = {o.phone_number: o for o in result.outcomes}
    assert by_phone["+12025550100"].outcome == "completed"
    assert by_phone["+12025550486"].outcome == "busy"
    assert by_phone["+12025550408"].outcome == "no_answer"
    assert by_phone["+12025550555"].outcome == "voicemail"
    assert len(result.counts) >= 4  # the seeded mix gives more than one outcome
    for outcome in result.outcomes:
        assert outcome.attempts == 1 and len(outcome.call_ids) == 1
    assert "completed" in state.message


def test_rows_rejected_suppressed_and_deduplicated_from_csv(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(
        "phone_number,name,timezone,context.first_name\n"
        "+1 (202) 555-1001,Ada,America/New_York,Ada\n"
        "+12025551002,Bob,Mars/Olympus,Bob\n"
        "2025551003,Cy,,Cy\n"
        "+12025551004,Di,,Di\n"
        "+12025551001,Ada again,,Ada\n"
        "+12025551005,Ed,Europe/Berlin,Ed\n",
        encoding="utf-8-sig",
    )
    export = tmp_path / "out" / "outcomes.csv"
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts_file=str(source),
        suppression={"numbers": ["+1 202 555 1004"]},
        campaign_id="csv-run",
        exports={"csv_path": str(export)},
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    assert result.duplicates == 1
    rejected = result.by_outcome("rejected")
    assert sorted(o.row for o in rejected) == [3, 4]
    assert any("timezone" in (o.reason or "") for o in rejected)
    assert all("2025551003" not in (o.reason or "") for o in rejected)
    assert [o.phone_number for o in result.by_outcome("suppressed")] == ["+12025551004"]
    dialled = clean_sandbox.admin.stats()["calls_by_phone"]
    assert set(dialled) == {"+12025551001", "+12025551005"}
    with export.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == len(result.outcomes) == 5
    assert all("•" in row["phone_number"] or not row["phone_number"] for row in exported)


def test_context_columns_reach_the_call(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, sandbox: EmbeddedSandbox
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": "+12025551111", "context": {"first_name": "Ada"}}],
        campaign_id="ctx",
    )
    call_id = state.result().outcomes[0].call_ids[0]
    from casey_flows.blocks import CaseyCredentials

    with CaseyCredentials.load(credentials_block).get_sync_client() as client:
        call = client.get_call(sandbox.call_out_connection, call_id)
    assert call.context["first_name"] == "Ada"
    assert call.context["dispatch_key"].startswith("ctx:")
    assert call.context["campaign_id"] == "ctx"  # the warehouse joins calls to campaigns on it


def test_outcome_retries_until_max_attempts(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": "+12025550486"}, {"phone_number": "+12025550100"}],
        campaign_id="retries",
        retries={"max_attempts": 3, "delay_seconds": 0.2, "outcomes": ["busy"]},
    )
    result: CampaignResult = state.result()
    by_phone = {o.phone_number: o for o in result.outcomes}
    busy = by_phone["+12025550486"]
    assert (busy.outcome, busy.attempts, len(set(busy.call_ids))) == ("busy", 3, 3)
    assert by_phone["+12025550100"].attempts == 1
    stats = assert_nobody_dialled_twice_per_key(clean_sandbox)
    assert stats["calls_by_phone"] == {"+12025550486": 3, "+12025550100": 1}
    keys = [k for k in stats["calls_by_dispatch_key"] if k.startswith("retries:")]
    assert sorted(k.rsplit(":", 1)[1] for k in keys) == ["1", "1", "2", "3"]


def test_dry_run_dials_nobody(clean_sandbox: EmbeddedSandbox, credentials_block: str) -> None:
    closed = CallingWindow(start="09:00", end="09:00:01", days=[0])
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": p} for p in numbers(5)] + [{"phone_number": "nope"}],
        dry_run=True,
        campaign_id="dry",
        calling_window=closed,
    )
    result: CampaignResult = state.result()
    assert result.dry_run
    assert result.counts == {"deferred": 5, "rejected": 1}
    assert all(o.next_call_at is not None for o in result.by_outcome("deferred"))
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_dry_run_checks_the_connection_it_would_dial_on(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        connection_code=clean_sandbox.other_connection,
        contacts=[{"phone_number": p} for p in numbers(3)],
        dry_run=True,
        campaign_id="dry-wrong-connection",
    )
    assert state.is_failed()
    assert f"{clean_sandbox.other_connection!r} has channel_type" in (state.message or "")
    assert clean_sandbox.admin.stats()["creates_total"] == 0


def test_rerun_with_the_same_campaign_id_dials_nobody_again(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    contacts = [{"phone_number": p} for p in numbers(20)]
    first = run_campaign(clean_sandbox, credentials_block, contacts=contacts, campaign_id="again")
    second = run_campaign(clean_sandbox, credentials_block, contacts=contacts, campaign_id="again")
    stats = assert_nobody_dialled_twice_per_key(clean_sandbox)
    assert stats["creates_total"] == 20
    assert first.result().counts == second.result().counts


def test_ambiguous_faults_do_not_dial_twice(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    clean_sandbox.admin.set_faults(
        ambiguous_5xx_rate=0.15, ambiguous_drop_rate=0.15, error_5xx_rate=0.05
    )
    contacts = [{"phone_number": p} for p in numbers(60)]
    state = run_campaign(
        clean_sandbox, credentials_block, contacts=contacts, campaign_id="chaos-lite"
    )
    clean_sandbox.admin.set_faults()
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    stats = assert_nobody_dialled_twice_per_key(clean_sandbox)
    assert set(stats["calls_by_phone"].values()) == {1}
    assert len(stats["calls_by_phone"]) == 60
    assert stats["faults_injected"], "the faults must really have happened"
    assert "error" not in result.counts


@pytest.mark.timeout(120)
def test_global_concurrency_limit_is_strict_and_honoured(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    contacts = [{"phone_number": p} for p in numbers(12)]
    missing = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=contacts,
        campaign_id="gcl-missing",
        limits={"global_concurrency_limit": "casey-no-such-limit"},
    )
    assert missing.is_failed()
    assert clean_sandbox.admin.stats()["creates_total"] == 0

    create_limit("casey-account-test", 2)
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=contacts,
        campaign_id="gcl",
        limits={"max_concurrent_calls": 6, "global_concurrency_limit": "casey-account-test"},
    )
    assert state.is_completed(), state.message
    stats = clean_sandbox.admin.stats()
    assert stats["creates_total"] == 12
    assert max(stats["max_in_flight_by_connection"].values()) <= 2
    assert slots_held("casey-account-test") == 0, "every slot is given back when its call ends"


@pytest.mark.timeout(120)
def test_two_runs_sharing_a_global_limit_stay_under_it_together(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    create_limit("casey-shared-test", 3)
    states: dict[str, Any] = {}

    def campaign(name: str, start: int) -> None:
        states[name] = run_campaign(
            clean_sandbox,
            credentials_block,
            # Enough that the runs overlap even when one takes a second or two longer to start
            # (each first takes its campaign's lease).
            contacts=[{"phone_number": p} for p in numbers(15, start=start)],
            campaign_id=name,
            limits={
                "max_concurrent_calls": 3,  # each run alone could fill the account's 3
                "global_concurrency_limit": "casey-shared-test",
            },
        )

    runs = [
        threading.Thread(target=campaign, args=("shared-a", 5000)),
        threading.Thread(target=campaign, args=("shared-b", 5100)),
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=100)
    assert all(s.is_completed() for s in states.values()) and len(states) == 2, states
    stats = assert_nobody_dialled_twice_per_key(clean_sandbox)
    assert stats["creates_total"] == 30
    assert max(stats["max_in_flight_by_connection"].values()) <= 3
    assert slots_held("casey-shared-test") == 0
    # The runs really overlapped: b dialled before a was done dialling.
    with CaseyClient(clean_sandbox.api_key, base_url=clean_sandbox.base_url) as client:
        calls = sorted(client.iter_calls(clean_sandbox.call_out_connection), key=created)
    runs_in_order = [(dispatch_key_of(c) or "").split(":")[0] for c in calls]
    last_a = len(runs_in_order) - 1 - runs_in_order[::-1].index("shared-a")
    assert runs_in_order.index("shared-b") < last_a, runs_in_order


def created(call: Call) -> str:
    return call.created_at_raw or ""


def create_limit(name: str, limit: int) -> None:
    async def create() -> None:
        async with get_client() as client:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=limit)
            )

    asyncio.run(create())


def slots_held(name: str) -> int:
    async def read() -> int:
        async with get_client() as client:
            return (await client.read_global_concurrency_limit_by_name(name)).active_slots

    return asyncio.run(read())


CRASHING_RUN = """
import asyncio, sys
from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.flows.campaign import call_campaign
window = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
contacts = [{"phone_number": f"+1202555{3000 + i:04d}"} for i in range(40)]
asyncio.run(call_campaign(connection_code=sys.argv[1], credentials_block=sys.argv[2],
    contacts=contacts, campaign_id="killed", calling_window=window,
    limits={"max_concurrent_calls": 5, "poll_interval_seconds": 0.2},
    exports={"call_events": "none"}))
"""


def test_sigkill_mid_campaign_then_rerun_dials_nobody_twice(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN, clean_sandbox.call_out_connection, credentials_block],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: clean_sandbox.admin.stats()["creates_total"] >= 12, timeout=60)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    dialled_before = clean_sandbox.admin.stats()["creates_total"]
    assert 12 <= dialled_before < 40, "the kill must land mid-campaign"
    time.sleep(0.5)
    # The test server is Prefect's ephemeral kind: nothing takes back a killed run's lease, so
    # the person re-running frees it (a Prefect server does so in ~75 s by itself).
    asyncio.run(release_campaign_lease("killed"))
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": f"+1202555{3000 + i:04d}"} for i in range(40)],
        campaign_id="killed",
        limits={"max_concurrent_calls": 5},
    )
    assert state.is_completed(), state.message
    stats = assert_nobody_dialled_twice_per_key(clean_sandbox)
    assert set(stats["calls_by_phone"].values()) == {1}
    assert len(stats["calls_by_phone"]) == 40
    assert len(state.result().outcomes) == 40


def test_a_second_run_of_a_live_campaign_waits_then_refuses_and_dials_nobody(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    """While one run holds the campaign's lease (here: the test, as a live run would), another
    run of the same campaign waits ``safety.lease_wait_seconds``, then fails without a single
    create."""
    from casey_flows.campaign.control import campaign_lease
    from casey_flows.exceptions import CampaignBusy

    async def second_run_while_held() -> Any:
        async with campaign_lease("held", wait_seconds=5):
            return await call_campaign(
                credentials_block=credentials_block,
                return_state=True,
                **with_fast(
                    {
                        "connection_code": clean_sandbox.call_out_connection,
                        "contacts": [{"phone_number": p} for p in numbers(3)],
                        "campaign_id": "held",
                        "safety": {"lease_wait_seconds": 1},
                    }
                ),
            )

    state = asyncio.run(second_run_while_held())
    assert state.is_failed()
    with pytest.raises(CampaignBusy, match="being dialled by another run"):
        state.result()
    assert clean_sandbox.admin.stats()["creates_total"] == 0
    # Once the lease is free, the same campaign runs.
    assert run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[{"phone_number": p} for p in numbers(3)],
        campaign_id="held",
    ).is_completed()
