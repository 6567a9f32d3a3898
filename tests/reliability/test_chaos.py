"""Chaos: a 1,000-contact campaign through 5xx, ambiguous creates, 429s and latency.

The guarantee under test is the one a campaign owes the people it calls: every valid contact
ends with a recorded outcome, and nobody is dialled twice for the same attempt. The sandbox's
own counters (``calls_by_phone``, ``duplicates``) are the witness, not the flow's report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from casey_flows.campaign.models import CampaignResult
from casey_flows.client import CaseyClient
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox
from tests.reliability.conftest import assert_exactly_once, numbers, run_campaign, save_block

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_server")]

# 600 under every fault at once: each kind of fault still lands dozens of times (asserted below),
# at 0.6 of the CI time 1,000 took.
CONTACTS = 600
CHAOS = {
    "error_5xx_rate": 0.05,
    "ambiguous_5xx_rate": 0.015,
    "ambiguous_drop_rate": 0.015,
    "rate_429": 0.05,
    "latency_ms": (0, 300),
}


@pytest.fixture(scope="module")
def chaos_sandbox() -> Iterator[EmbeddedSandbox]:
    """A sandbox of its own: fast calls, no provider caps, so only the injected faults bite."""
    with running_sandbox(seed=2026, speed=200, concurrency_cap=0, rate_limit_per_s=0) as sb:
        yield sb


@pytest.mark.parametrize(
    ("contacts", "list_lag"),
    [
        (CONTACTS, 0.0),
        # The list trails creates by 1 s (under the 2 s re-dial rule of these runs), and some
        # creates are lost outright: committed and lost look alike until the list shows them.
        (300, 1.0),
    ],
    ids=["list-current", "list-lagging"],
)
def test_contacts_under_faults_each_dialled_once_with_an_outcome(
    chaos_sandbox: EmbeddedSandbox, contacts: int, list_lag: float
) -> None:
    chaos_sandbox.clean()  # each case counts its own calls and faults
    block = save_block("casey-chaos", chaos_sandbox.api_key, chaos_sandbox.base_url)
    phones = numbers(contacts, prefix="+1720555" if list_lag == 0 else "+1720557")
    # Random rates, plus one of each rare kind for sure (a few percent of a few hundred creates
    # can come out as none, and the assertions below want every kind to have landed).
    lost = {"lost_create_rate": 0.015, "next_lost_create": 1} if list_lag else {}
    chaos_sandbox.admin.set_faults(**CHAOS, **lost, next_ambiguous_drop=1, next_ambiguous_5xx=1)
    chaos_sandbox.admin.set_list_lag(list_lag)
    started = time.monotonic()
    try:
        state = run_campaign(
            chaos_sandbox,
            block,
            contacts=[{"phone_number": p} for p in phones],
            campaign_id=f"chaos-{contacts}-lag-{list_lag:g}",
            limits={"max_concurrent_calls": 100, "max_requests_per_second": 300.0},
            retries={"max_attempts": 1},
        )
    finally:
        chaos_sandbox.admin.set_faults()
        chaos_sandbox.admin.set_list_lag(0)
    elapsed = time.monotonic() - started
    assert state.is_completed(), state.message
    stats = chaos_sandbox.admin.stats()

    # The faults really happened, in every kind asked for.
    injected = stats["faults_injected"]
    kinds = ["5xx", "429", "ambiguous_5xx", "ambiguous_drop", "latency"]
    for kind in kinds + (["lost_create"] if list_lag else []):
        assert injected.get(kind, 0) > 0, (kind, injected)

    # Exactly once per attempt, by the sandbox's count.
    assert_exactly_once(stats, phones)
    assert stats["creates_total"] == contacts

    # Every contact has an outcome, and it is the outcome of the one call the sandbox holds.
    result: CampaignResult = state.result()
    assert len(result.outcomes) == contacts
    assert {o.phone_number for o in result.outcomes} == set(phones)
    assert "error" not in result.counts and "still open" not in result.counts, result.counts
    with CaseyClient(chaos_sandbox.api_key, base_url=chaos_sandbox.base_url) as client:
        calls = {c.id: c for c in client.iter_calls(chaos_sandbox.call_out_connection)}
    assert len(calls) == contacts
    for outcome in result.outcomes:
        assert outcome.attempts == 1 and len(outcome.call_ids) == 1, outcome
        call = calls[outcome.call_ids[0]]
        assert call.phone_number == outcome.phone_number
        assert call.status == outcome.status, (call, outcome)
    assert elapsed < 120, f"chaos campaign took {elapsed:.0f} s"
