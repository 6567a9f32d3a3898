"""Blocks → Casey Credentials → Create, as a person sets up the key: the key is masked once
saved, and a run started from the UI with that block's name reaches the sandbox with it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.api import title_of
from tests.ui.conftest import UIStack
from tests.ui.pages import PrefectUI

pytestmark = [pytest.mark.ui, pytest.mark.timeout(180)]

BLOCK_NAME = "casey-from-the-ui"
NUMBER = "+14155550100"  # the sandbox completes every number ending in 0100
MASK = "********"


def test_credentials_block_made_in_the_ui_is_masked_and_works_in_a_run(
    ui: PrefectUI, ui_stack: UIStack
) -> None:
    sandbox, api = ui_stack.sandbox, ui_stack.api
    form = ui.block_catalog().create("Casey Credentials")
    form.fill(BLOCK_NAME, {"API key": sandbox.api_key, "Base URL": sandbox.base_url})
    created = form.save()

    # Masked in the UI (and nowhere on the page in clear), stored in full by the server.
    expect(ui.page).to_have_url(f"{ui.root}/v2/blocks/block/{created['id']}")
    block_page = ui.block(created["id"])
    expect(block_page.value_of("API key")).to_have_text(MASK)
    expect(block_page.value_of("Base URL")).to_have_text(sandbox.base_url)
    assert sandbox.api_key not in ui.page.content()
    assert api.block_document(created["id"])["data"]["api_key"] == MASK
    stored = api.block_document(created["id"], include_secrets=True)
    assert stored["data"]["api_key"] == sandbox.api_key

    # The block works: place-call/by-hand, started from its custom-run form with that name.
    deployment = api.deployment("place-call/by-hand")
    schema = deployment["parameter_openapi_schema"]
    run_form = ui.deployment(deployment["id"]).custom_run()
    run_form.fill_text(title_of(schema, "phone_number"), NUMBER)
    run_form.fill_text(title_of(schema, "connection_code"), sandbox.call_out_connection or "")
    run_form.fill_text(title_of(schema, "credentials_block"), BLOCK_NAME)
    run = run_form.submit()
    assert run["parameters"]["credentials_block"] == BLOCK_NAME

    done = api.wait_for_state(run["id"], timeout=90)
    assert done["state"]["name"] == "Completed", done["state"]["message"]
    assert done["state"]["message"] == "completed"
    assert sandbox.admin.stats()["calls_by_phone"].get(NUMBER) == 1
