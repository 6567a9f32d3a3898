"""The call-campaign custom-run form, as a person fills it: every parameter and section shows
its title and help text (read from the deployment's stored parameter schema, never written
here), and a dry run started from it completes with its preview artifact in the Artifacts tab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from tests.ui.api import resolved, sections, shown_description, title_of, top_level
from tests.ui.conftest import UIStack
from tests.ui.pages import PrefectUI, RunForm

pytestmark = [pytest.mark.ui, pytest.mark.timeout(180)]

DEPLOYMENT = "call-campaign/on-demand"
NUMBERS = ["+16468880001", "+16468880002", "+16468880003"]
PREVIEW_HEADING = "## Preview"


def missing_from_form(form: RunForm, schema: dict[str, Any]) -> list[str]:
    """What the form does not show as the schema says: each top-level parameter's title and
    description (every one must have a description), and each section's fields' titles and
    descriptions (where the schema has one). The form is rendered already: each check looks
    once, without waiting."""
    missing: list[str] = []

    def check(
        path: str, prop: dict[str, Any], required: bool, within: Locator | None = None
    ) -> None:
        title = prop.get("title") or path.rsplit(".", 1)[-1]
        label = form.label(title, required=required, within=within)
        if not label.count() or not label.is_visible():
            missing.append(f"{path}: no label {title!r}")
            return
        description = shown_description(prop)
        shown = form.description(title, within=within)
        if description and (not shown.count() or shown.inner_text() != description):
            missing.append(f"{path}: description {description!r} not under its label")

    required = set(schema.get("required", []))
    for name, prop in top_level(schema):
        if not prop.get("description"):
            missing.append(f"{name}: the schema has no description for it")
        check(name, prop, name in required)
    for name, section in sections(schema):
        block = form.parameter(section.get("title") or name)
        for field, field_prop in section["properties"].items():
            inner_required = field in section.get("required", [])
            check(f"{name}.{field}", resolved(schema, field_prop), inner_required, block)
    return missing


def test_campaign_form_shows_every_section_and_a_dry_run_previews(
    ui: PrefectUI, ui_stack: UIStack, tmp_path: Path
) -> None:
    api, sandbox = ui_stack.api, ui_stack.sandbox
    deployment = api.deployment(DEPLOYMENT)
    schema = deployment["parameter_openapi_schema"]
    contacts_file = tmp_path / "contacts.csv"
    contacts_file.write_text("phone_number,name\n" + "".join(f"{n},Someone\n" for n in NUMBERS))

    form = ui.deployment(deployment["id"]).custom_run()
    first_name, first = top_level(schema)[0]
    expect(form.label(first.get("title") or first_name)).to_be_visible()
    missing = missing_from_form(form, schema)
    assert not missing, "the run form does not show:\n" + "\n".join(missing)

    form.fill_text(title_of(schema, "connection_code"), sandbox.call_out_connection or "")
    form.fill_text(title_of(schema, "contacts_file"), str(contacts_file))
    form.switch_on(title_of(schema, "dry_run"))
    run = form.submit()
    assert run["parameters"]["dry_run"] is True
    assert run["parameters"]["contacts_file"] == str(contacts_file)

    done = api.wait_for_state(run["id"], timeout=90)
    assert done["state"]["name"] == "Completed", done["state"]["message"]
    assert done["state"]["message"].startswith("dry run")
    calls = sandbox.admin.stats()["calls_by_phone"]
    assert not [n for n in NUMBERS if n in calls], "a dry run dialled"

    # The preview, as the API has it, and as the Artifacts tab shows it.
    artifacts = api.artifacts(run["id"])
    preview = next(a for a in artifacts if PREVIEW_HEADING in str(a.get("data")))
    heading = next(
        line.removeprefix("## ")
        for line in str(preview["data"]).splitlines()
        if line.startswith(PREVIEW_HEADING)
    )
    tab = ui.flow_run(run["id"]).artifacts()
    expect(tab.card(preview["key"])).to_be_visible()
    artifact_page = tab.open(preview["key"])
    expect(artifact_page.heading(heading)).to_be_visible()
