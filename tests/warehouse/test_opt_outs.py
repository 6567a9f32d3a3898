"""Opt-outs close the loop: ``call_campaign(suppression=Suppression(opt_outs_from=...))`` with a
``WarehouseOptOuts()`` suppresses the numbers ``sync_calls`` loaded into ``opt_outs`` for the
campaign's connection, and fails before dialling anyone when the warehouse cannot be read."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.states import State

from casey_flows.campaign.models import OUTCOME_SUPPRESSED
from casey_flows.flows.campaign import call_campaign
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse.opt_outs import WarehouseOptOuts, read_opt_outs
from tests.flows.test_campaign import with_fast
from tests.warehouse.conftest import numbers, place_calls, wait_until_ended
from tests.warehouse.test_sync_flow import run_sync

pytestmark = pytest.mark.usefixtures("prefect_server", "warehouse")

# The sandbox's magic answer: digits 5-7 from the end 990 answer opt_out true.
OPTS_OUT = "+14159900042"
OPTED_OUT_REASON = "opted out on an earlier call"


def run_campaign(sandbox: EmbeddedSandbox, credentials_block: str, **params: Any) -> State:
    params = with_fast({"connection_code": sandbox.call_out_connection, **params})
    return asyncio.run(
        call_campaign(credentials_block=credentials_block, return_state=True, **params)  # type: ignore[func-returns-value]
    )


def contacts(*phones: str) -> list[dict[str, str]]:
    return [{"phone_number": p} for p in phones]


@pytest.fixture
def synced_opt_out(clean_sandbox: EmbeddedSandbox, credentials_block: str) -> str:
    """One earlier call whose answer was "no more calls", loaded by ``sync_calls``."""
    calls = place_calls(clean_sandbox, [OPTS_OUT])
    wait_until_ended(clean_sandbox, calls)
    state = run_sync(clean_sandbox, credentials_block)
    assert state.is_completed(), state.message
    assert state.result().rows["opt_outs"] == 1
    return OPTS_OUT


def test_a_number_that_opted_out_is_suppressed_and_the_others_are_dialled(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, synced_opt_out: str
) -> None:
    others = numbers(2, start=700)

    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=contacts(synced_opt_out, *others),
        campaign_id="after-opt-out",
        suppression={"opt_outs_from": WarehouseOptOuts()},
    )

    assert state.is_completed(), state.message
    by_phone = {o.phone_number: o for o in state.result().outcomes}
    assert by_phone[synced_opt_out].outcome == OUTCOME_SUPPRESSED
    assert by_phone[synced_opt_out].reason == OPTED_OUT_REASON
    assert all(by_phone[n].attempts == 1 for n in others)
    # Dialled once, by the earlier call; the campaign dialled only the others.
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {
        synced_opt_out: 1,
        **dict.fromkeys(others, 1),
    }


def test_an_opt_out_is_scoped_to_the_connection_it_was_given_on(
    clean_sandbox: EmbeddedSandbox, synced_opt_out: str
) -> None:
    where = WarehouseOptOuts()
    # The sandbox's other connection (demo-web) cannot place calls, so no campaign runs there;
    # what a campaign on it would suppress is what the reader returns for it.
    assert clean_sandbox.other_connection
    assert asyncio.run(read_opt_outs(where, clean_sandbox.call_out_connection)) == [synced_opt_out]
    assert asyncio.run(read_opt_outs(where, clean_sandbox.other_connection)) == []


def test_no_opt_outs_table_yet_warns_and_suppresses_nobody(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, caplog: pytest.LogCaptureFixture
) -> None:
    phones = [OPTS_OUT, *numbers(2, start=720)]  # no sync has run: nothing is known yet

    with caplog.at_level(logging.WARNING, logger="casey_flows.warehouse"):
        state = run_campaign(
            clean_sandbox,
            credentials_block,
            contacts=contacts(*phones),
            campaign_id="before-any-sync",
            suppression={"opt_outs_from": WarehouseOptOuts()},
        )

    assert state.is_completed(), state.message
    assert "suppressed" not in state.result().counts
    assert "no opt_outs table in casey yet" in caplog.text
    # In the run's result (summary) too, not only in a Python log the UI never shows.
    assert any("no opt_outs table" in w for w in state.result().warnings)
    assert clean_sandbox.admin.stats()["calls_by_phone"] == dict.fromkeys(phones, 1)


def test_an_unreachable_warehouse_fails_the_campaign_before_dialling_anyone(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, warehouse: Path
) -> None:
    from prefect.blocks.system import Secret

    Secret(value="postgresql://nobody:secret@127.0.0.1:9/nowhere").save(
        "dead-warehouse", overwrite=True
    )
    started = time.monotonic()

    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=contacts(*numbers(2, start=740)),
        campaign_id="warehouse-down",
        suppression={
            "opt_outs_from": WarehouseOptOuts(
                destination="postgres", destination_credentials_block="dead-warehouse"
            )
        },
    )

    assert state.is_failed()
    assert "cannot reach the postgres destination" in state.message
    assert "secret@" not in state.message  # the destination's password never shows
    assert time.monotonic() - started < 30
    assert clean_sandbox.admin.stats()["calls_by_phone"] == {}
