"""Page objects for Prefect 3.9's default UI (V2, under ``/v2``): every selector the browser
tests use lives here, so a change in Prefect's markup is fixed in one place.

Selectors prefer what a person sees (roles, accessible names, label texts); the few that need
the form's structure (a parameter's block around its label) say so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator, Page, Response, expect

# The schema form marks optional parameters in their label: "contacts_file (Optional)".
OPTIONAL_SUFFIX = " (Optional)"
# A parameter's block: the label, its description, its menu and its input, in one
# ``div.group`` (ui-v2/src/components/schemas/schema-form-property.tsx).
PROPERTY_BLOCK = (
    "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' group ')][1]"
)


# Prefect's "retry me" (SQLite busy on a loaded machine): nothing was created, and a person
# would press the button again.
SERVER_BUSY = 503
PRESSES = 3


def press_until_created(
    page: Page, button: Locator, is_answer: Callable[[Response], bool], what: str
) -> dict[str, Any]:
    """Press ``button``; the JSON of the answer ``is_answer`` recognises, pressed again while
    the server answers 503."""
    for press in range(1, PRESSES + 1):
        with page.expect_response(is_answer) as answered:
            button.click()
        response = answered.value
        if response.status != SERVER_BUSY or press == PRESSES:
            break
        page.wait_for_timeout(1000 * press)
    assert response.ok, f"{what} failed: {response.status} {response.text()}"
    return response.json()


def is_create_block_document(response: Response) -> bool:
    """The block form's save: ``POST /api/block_documents/``."""
    return response.request.method == "POST" and response.url.rstrip("/").endswith(
        "/api/block_documents"
    )


def is_create_flow_run(response: Response) -> bool:
    """The form's submit: ``POST /api/deployments/{id}/create_flow_run``."""
    return response.request.method == "POST" and response.url.endswith("/create_flow_run")


@dataclass
class PrefectUI:
    """The V2 UI of one Prefect server, reached at ``root`` (``http://127.0.0.1:<port>``)."""

    page: Page
    root: str

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.root}/v2{path}")

    def block_catalog(self) -> BlockCatalog:
        self.goto("/blocks/catalog")
        return BlockCatalog(self.page)

    def block(self, block_id: str) -> BlockPage:
        self.goto(f"/blocks/block/{block_id}")
        return BlockPage(self.page)

    def deployment(self, deployment_id: str) -> DeploymentPage:
        self.goto(f"/deployments/deployment/{deployment_id}")
        return DeploymentPage(self.page)

    def flow_run(self, run_id: str) -> FlowRunPage:
        self.goto(f"/runs/flow-run/{run_id}")
        return FlowRunPage(self.page)


@dataclass
class BlockCatalog:
    page: Page

    def create(self, block_type_name: str) -> BlockForm:
        """The catalog card of ``block_type_name`` → its Create button."""
        heading = self.page.get_by_role("heading", name=block_type_name, exact=True)
        expect(heading).to_be_visible()
        # The card's buttons follow its heading; the link's address names the block type.
        card_links = self.page.get_by_role("link", name="Create", exact=True)
        slug = block_type_name.lower().replace(" ", "-")
        card_links.and_(self.page.locator(f"a[href$='/catalog/{slug}/create']")).click()
        return BlockForm(self.page)


@dataclass
class BlockForm:
    """A block's create form: one text field per block field, labelled with its title."""

    page: Page

    def fill(self, name: str, fields: dict[str, str]) -> None:
        """``fields``: field title (as the form labels it) → text to type."""
        self.page.get_by_label("Name", exact=True).fill(name)
        for title, text in fields.items():
            self.field(title).fill(text)

    def field(self, title: str) -> Locator:
        return self.page.get_by_label(re.compile(rf"^{re.escape(title)}( \(Optional\))?$"))

    def save(self) -> dict[str, Any]:
        """Save; the created block document as the API answered it."""
        save = self.page.get_by_role("button", name="Save", exact=True)
        return press_until_created(self.page, save, is_create_block_document, "saving the block")


@dataclass
class BlockPage:
    """A block document's page: its fields as a definition list (term → value)."""

    page: Page

    def value_of(self, title: str) -> Locator:
        term = self.page.get_by_role("term").filter(has_text=re.compile(rf"^{re.escape(title)}$"))
        return term.locator("xpath=following-sibling::*[1]")


@dataclass
class DeploymentPage:
    page: Page

    def custom_run(self) -> RunForm:
        """Run → Custom run, as a person starts a run with their own parameters."""
        self.page.get_by_role("button", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Custom run").click()
        form = RunForm(self.page)
        expect(form.submit_button).to_be_visible()
        return form


@dataclass
class RunForm:
    """The custom-run form (also what "Copy to new run" opens): the deployment's parameters,
    one block each, labelled with the schema's title ("(Optional)" when not required)."""

    page: Page

    @property
    def submit_button(self) -> Locator:
        return self.page.get_by_role("button", name="Submit", exact=True)

    def label(
        self, title: str, required: bool | None = None, within: Locator | None = None
    ) -> Locator:
        """The label of the parameter titled ``title`` (``required``: None accepts either),
        anywhere in the form or ``within`` a section."""
        if required is None:
            text = re.compile(rf"^{re.escape(title)}( \(Optional\))?$")
        else:
            text = re.compile(rf"^{re.escape(title + ('' if required else OPTIONAL_SUFFIX))}$")
        return (within or self.page).locator("label").filter(has_text=text).first

    def description(self, title: str, within: Locator | None = None) -> Locator:
        """The help text under the parameter's label (the schema's description)."""
        return self.label(title, within=within).locator("xpath=following-sibling::p[1]")

    def parameter(self, title: str) -> Locator:
        """Everything of one parameter: label, description, menu, input (nested ones too)."""
        return self.label(title).locator(PROPERTY_BLOCK)

    def fill_text(self, title: str, text: str) -> None:
        """A string parameter; for ``str | None`` it first picks the "str" tab."""
        block = self.parameter(title)
        tab = block.get_by_role("tab", name="str", exact=True)
        if tab.count():
            tab.first.click()
        block.get_by_role("textbox").first.fill(text)

    def text_of(self, title: str) -> Locator:
        return self.parameter(title).get_by_role("textbox").first

    def switch_on(self, title: str) -> None:
        switch = self.parameter(title).get_by_role("switch").first
        if switch.get_attribute("aria-checked") != "true":
            switch.click()
        expect(switch).to_have_attribute("aria-checked", "true")

    def submit(self) -> dict[str, Any]:
        """Submit; the flow run the server created (its id, parameters, state)."""
        return press_until_created(
            self.page, self.submit_button, is_create_flow_run, "creating the run"
        )


@dataclass
class FlowRunPage:
    page: Page

    def open_menu(self) -> None:
        # The header's menu: the first "Open menu" button of the page's main area.
        self.page.get_by_role("main").get_by_role("button", name="Open menu").first.click()

    def cancel(self) -> None:
        """Menu → Cancel → confirm in the dialog."""
        self.open_menu()
        self.page.get_by_role("menuitem", name="Cancel", exact=True).click()
        dialog = self.page.get_by_role("alertdialog")
        dialog.get_by_role("button", name="Cancel Flow Run").click()
        expect(dialog).to_be_hidden()

    def copy_to_new_run(self) -> RunForm:
        """Menu → Copy to new run: the custom-run form with this run's parameters."""
        self.open_menu()
        self.page.get_by_role("menuitem", name="Copy to new run").click()
        form = RunForm(self.page)
        expect(form.submit_button).to_be_visible()
        return form

    def artifacts(self) -> ArtifactsTab:
        self.page.get_by_role("tab", name="Artifacts", exact=True).click()
        return ArtifactsTab(self.page)


@dataclass
class ArtifactsTab:
    page: Page

    def card(self, key: str) -> Locator:
        """An artifact's card, a link whose heading is the artifact's key."""
        panel = self.page.get_by_role("tabpanel", name="Artifacts")
        return panel.get_by_role("link").filter(
            has=self.page.get_by_role("heading", name=key, exact=True)
        )

    def open(self, key: str) -> ArtifactPage:
        self.card(key).click()
        return ArtifactPage(self.page)


@dataclass
class ArtifactPage:
    page: Page

    def heading(self, text: str) -> Locator:
        """A heading of a markdown artifact's rendered content."""
        return self.page.get_by_role("main").get_by_role("heading", name=text, exact=True)
