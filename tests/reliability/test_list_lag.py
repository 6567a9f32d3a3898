"""Never twice when the call list trails creates (issue: a list served from a replica).

The sandbox's list lag hides a new call from ``GET .../calls`` for N real seconds while reads
by id stay immediate; its ambiguous faults commit a create and then answer 500 or drop the
connection. Together they are the case the ledger must survive: a create that may have rung
and that the list does not show yet. The sandbox's own counters are the witness. Lags and the
re-dial setting are scaled down together to keep the suite fast; one case runs the default.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from casey_flows.campaign.models import CampaignResult
from casey_flows.campaign.outcomes import Outcome
from casey_flows.client import AsyncCaseyClient, CallRequest
from casey_flows.core.dispatch import (
    DEFAULT_REDIAL_AFTER_SECONDS,
    Dispatched,
    RedialRule,
    dispatch_once,
)
from casey_flows.exceptions import CreateUnconfirmed
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.flows.test_place_call import place
from tests.reliability.conftest import assert_exactly_once, numbers, run_campaign

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_server")]

REDIAL_AFTER = 2.0  # the scaled-down tolerance


@pytest.fixture
def lagging(clean_sandbox: EmbeddedSandbox) -> Iterator[EmbeddedSandbox]:
    yield clean_sandbox
    clean_sandbox.admin.set_faults()
    clean_sandbox.admin.set_list_lag(0)


@pytest.mark.parametrize(
    ("fault", "lag", "redial_after"),
    [
        ("next_ambiguous_5xx", 0.6, REDIAL_AFTER),  # well below the tolerance
        ("next_ambiguous_drop", 0.6, REDIAL_AFTER),
        ("next_ambiguous_5xx", REDIAL_AFTER - 0.2, REDIAL_AFTER),  # at it
        ("next_ambiguous_drop", 3.0, DEFAULT_REDIAL_AFTER_SECONDS),  # the real default
    ],
)
def test_place_call_adopts_a_committed_create_the_list_shows_late(
    lagging: EmbeddedSandbox, credentials_block: str, fault: str, lag: float, redial_after: float
) -> None:
    phone = "+14155550100"  # completes
    lagging.admin.set_list_lag(lag)
    lagging.admin.set_faults(**{fault: 1})
    state = place(lagging, credentials_block, phone, redial_after_seconds=redial_after)
    assert state.is_completed(), state.message
    stats = lagging.admin.stats()
    assert stats["faults_injected"][fault.removeprefix("next_")] == 1
    assert stats["creates_total"] == 1
    assert stats["calls_by_phone"] == {phone: 1}


def test_place_call_redials_a_create_that_never_arrived_only_after_the_wait(
    lagging: EmbeddedSandbox, credentials_block: str
) -> None:
    phone = "+14155550100"
    lagging.admin.set_list_lag(0.5)
    lagging.admin.set_faults(next_lost_create=1)  # a 500, and no call was created
    started = time.monotonic()
    state = place(lagging, credentials_block, phone, redial_after_seconds=REDIAL_AFTER)
    elapsed = time.monotonic() - started
    assert state.is_completed(), state.message
    stats = lagging.admin.stats()
    assert stats["faults_injected"]["lost_create"] == 1
    assert stats["calls_by_phone"] == {phone: 1}
    assert elapsed >= REDIAL_AFTER  # a lower bound: the rule waited before dialling again


def test_place_call_with_redial_off_ends_unconfirmed_and_dials_once_at_most(
    lagging: EmbeddedSandbox, credentials_block: str
) -> None:
    phone = "+14155550100"
    lagging.admin.set_faults(next_lost_create=1)
    state = place(
        lagging,
        credentials_block,
        phone,
        redial_after_seconds=REDIAL_AFTER,
        redial_unconfirmed=False,
    )
    assert state.is_failed()
    with pytest.raises(CreateUnconfirmed, match="not dialled again"):
        state.result()
    assert lagging.admin.stats()["calls_by_phone"] == {}


def campaign(sandbox: EmbeddedSandbox, block: str, phones: list[str], **params: Any) -> State:
    return run_campaign(
        sandbox,
        block,
        contacts=[{"phone_number": p} for p in phones],
        limits={"max_concurrent_calls": 10},
        **params,
    )


@pytest.mark.parametrize("lag", [1.0, REDIAL_AFTER - 0.2])
def test_campaign_under_list_lag_dials_everyone_once(
    lagging: EmbeddedSandbox, credentials_block: str, lag: float
) -> None:
    phones = numbers(40, start=200, prefix="+1720556")
    lagging.admin.set_list_lag(lag)
    # Four creates that commit and then fail, two that never arrive; all look alike to a client.
    lagging.admin.set_faults(next_ambiguous_5xx=2, next_ambiguous_drop=2, next_lost_create=2)
    state = campaign(
        lagging,
        credentials_block,
        phones,
        campaign_id=f"lag-{lag}",
        safety={"redial_after_seconds": 2.0},
    )
    assert state.is_completed(), state.message
    stats = lagging.admin.stats()
    assert stats["faults_injected"]["ambiguous_5xx"] == 2
    assert stats["faults_injected"]["ambiguous_drop"] == 2
    assert stats["faults_injected"]["lost_create"] == 2
    assert_exactly_once(stats, phones)
    result: CampaignResult = state.result()
    assert len(result.outcomes) == len(phones)
    assert not result.dialled_twice
    assert Outcome.UNCONFIRMED not in result.counts


def test_campaign_with_redial_off_reports_unconfirmed_and_never_redials(
    lagging: EmbeddedSandbox, credentials_block: str
) -> None:
    phones = numbers(12, start=300, prefix="+1720556")
    lagging.admin.set_list_lag(0.5)
    lagging.admin.set_faults(next_lost_create=2, next_ambiguous_5xx=1)
    state = campaign(
        lagging,
        credentials_block,
        phones,
        campaign_id="lag-no-redial",
        safety={"redial_after_seconds": REDIAL_AFTER, "redial_unconfirmed": False},
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    unconfirmed = result.by_outcome(Outcome.UNCONFIRMED)
    assert len(unconfirmed) == 2  # the two that never arrived; the committed one is adopted
    assert all("may have rung" in (o.reason or "") for o in unconfirmed)
    stats = lagging.admin.stats()
    assert stats["duplicates"]["phone_numbers"] == {}
    assert len(stats["calls_by_phone"]) == len(phones) - 2
    assert {o.phone_number for o in unconfirmed}.isdisjoint(stats["calls_by_phone"])


def test_a_second_call_for_one_key_is_reported_not_hidden(
    lagging: EmbeddedSandbox, credentials_block: str
) -> None:
    """A list that trails creates by more than the tolerance: the rule re-dials a create that
    did arrive. Nothing can prevent that; it must not pass silently. (Seen here because the
    run outlasts the lag: two at a time through 16 contacts.)"""
    phones = numbers(16, start=400, prefix="+1720556")
    lagging.admin.set_list_lag(2.5)
    lagging.admin.set_faults(next_ambiguous_5xx=1)
    state = run_campaign(
        lagging,
        credentials_block,
        contacts=[{"phone_number": p} for p in phones],
        limits={"max_concurrent_calls": 2},
        campaign_id="lag-beyond-tolerance",
        safety={"redial_after_seconds": 1.0},
        exports={"call_events": "all"},
    )
    assert state.is_completed(), state.message
    assert "1 dialled more than once" in (state.message or "")
    result: CampaignResult = state.result()
    [twice] = result.dialled_twice
    assert len(twice.duplicate_call_ids) == 1
    # The call it watched is its outcome; the other one (the late original) is the duplicate.
    assert set(twice.duplicate_call_ids).isdisjoint(twice.call_ids)
    assert lagging.admin.stats()["calls_by_phone"][twice.phone_number] == 2

    resource = f"casey.call.{twice.duplicate_call_ids[0]}"

    async def duplicate_event_arrived() -> bool:
        async with get_client() as client:
            for _ in range(40):  # events are shipped in batches
                page = await client.read_events(
                    EventFilter(
                        event=EventNameFilter(name=["casey.call.duplicate"]),
                        resource=EventResourceFilter(id=[resource]),
                    ),
                    limit=5,
                )
                if page.events:
                    return True
                await asyncio.sleep(0.25)
        return False

    assert asyncio.run(duplicate_event_arrived()), f"no casey.call.duplicate event for {resource}"


def test_a_retry_waits_for_the_lagging_list_before_dialling(lagging: EmbeddedSandbox) -> None:
    """A retry seconds after a create that went through (the run crashed before it saw the
    answer): the list does not show the call yet, and the retry must not dial again."""
    lagging.admin.set_list_lag(1.0)
    key = "retry-under-lag:k:1"
    request = CallRequest.build(phone_number="+14155550100", context={"dispatch_key": key})

    async def first_attempt_then_retry() -> Dispatched:
        async with AsyncCaseyClient(lagging.api_key, base_url=lagging.base_url) as client:
            await client.create_call_from(lagging.call_out_connection, request, key)
            return await dispatch_once(
                client,
                lagging.call_out_connection,
                request,
                key,
                check_ledger_first=True,
                redial=RedialRule(after_seconds=REDIAL_AFTER),
            )

    retried = asyncio.run(first_attempt_then_retry())
    assert retried.adopted and not retried.duplicates
    assert lagging.admin.stats()["creates_total"] == 1
