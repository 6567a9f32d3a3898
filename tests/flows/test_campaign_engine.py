"""The engine's own bookkeeping: the run ends when every contact has an outcome, not earlier."""

from __future__ import annotations

import asyncio

import pytest

from flows.contacts import Contact
from flows.slots import Release, SlotGate
from sandbox.embedded import EmbeddedSandbox
from tests.flows.engine_runner import run_engine


class SlowGrantGate(SlotGate):
    """Grants each slot a moment after the local cap allows it, as a remote limit does."""

    async def acquire(self) -> Release:
        release = await super().acquire()
        await asyncio.sleep(0.5)  # a round trip to a global limit, e.g. Prefect's lease API
        return release


@pytest.mark.timeout(60)
def test_a_contact_waiting_for_a_slot_is_still_dialled_after_the_last_call_ends(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    # One slot: each contact waits for the previous call to end, then for the grant. The watch
    # loop must not take "nothing in flight, nothing queued" during that grant for "done".
    contacts = [Contact(phone_number=f"+1202555{4100 + i:04d}") for i in range(3)]
    tracks = run_engine(clean_sandbox, contacts, campaign_id="slow-grant", gate=SlowGrantGate(1))
    assert all(t.outcome is not None and len(t.call_ids) == 1 for t in tracks)
    stats = clean_sandbox.admin.stats()
    assert stats["calls_by_phone"] == {c.phone_number: 1 for c in contacts}
    assert max(stats["max_in_flight_by_connection"].values()) == 1
