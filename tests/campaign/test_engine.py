"""The engine's own bookkeeping: the run ends when every contact has an outcome, not earlier."""

from __future__ import annotations

import asyncio

import pytest

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.engine import EngineHooks
from casey_flows.campaign.slots import Release, SlotGate
from casey_flows.client import Call, NotFoundError
from casey_flows.core.waiting import WaitPolicy
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.campaign.engine_runner import run_engine


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


@pytest.mark.timeout(60)
def test_a_slot_granted_after_a_campaign_wide_error_dials_nobody(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    # Two slots: the first create answers 404 (no such connection) while the second contact
    # still waits for its grant; once granted it must not be sent into the same error. The
    # watcher polls slowly here, so it cannot stop the run first.
    contacts = [Contact(phone_number=f"+1202555{4200 + i:04d}") for i in range(2)]
    with pytest.raises(NotFoundError):
        run_engine(
            clean_sandbox,
            contacts,
            campaign_id="fatal-while-waiting",
            gate=SlowGrantGate(2),
            connection_code="no-such-connection",
            poll=WaitPolicy(min_poll_seconds=5.0, max_poll_seconds=5.0, jitter=0),
        )
    creates = clean_sandbox.admin.stats()["requests"]["POST /v1/backend/connections/{code}/calls"]
    assert creates == {"404": 1}


@pytest.mark.timeout(60)
def test_a_failing_dispatch_hook_fails_the_run_instead_of_hanging_it(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    def broken(call: Call) -> None:
        raise RuntimeError("event bus down")

    contacts = [Contact(phone_number=f"+1202555{4300 + i:04d}") for i in range(3)]
    with pytest.raises(RuntimeError, match="event bus down"):
        run_engine(
            clean_sandbox,
            contacts,
            campaign_id="broken-hook",
            hooks=EngineHooks(on_dispatched=broken),
        )


def test_the_same_number_twice_is_dialled_once(clean_sandbox: EmbeddedSandbox) -> None:
    twice = [Contact(phone_number="+12025554400"), Contact(phone_number="+12025554400")]
    tracks = run_engine(clean_sandbox, twice, campaign_id="twice")
    assert tracks[0] is tracks[1]  # one track: the repeat was skipped, not dialled
    assert len(tracks[0].call_ids) == 1
    assert clean_sandbox.admin.stats()["calls_by_phone"]["+12025554400"] == 1
