"""CaseyCredentials as Prefect sees it: Prefect's own block test suite, registration with
``prefect block register`` into a real server's catalog, and discovery through the
``prefect.collections`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import BlockTypeUpdate
from prefect.settings import PREFECT_API_URL
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from casey_flows.blocks import CaseyCredentials


class TestCaseyCredentialsBlock(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return CaseyCredentials

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pytest.skip("downloads the logo from the internet, which CI cannot reach")


def test_block_register_puts_the_block_in_the_catalog(prefect_server: None) -> None:
    slug = CaseyCredentials.get_block_type_slug()
    with get_client(sync_client=True) as client:
        # The server may know the type already (it loads prefect.collections at start):
        # make that copy stale, as an older release would have left it, so only the command
        # under test can bring the catalog entry up to date.
        if slug in {block_type.slug for block_type in client.read_block_types()}:
            stale = BlockTypeUpdate(description="stale", code_example="stale", logo_url=None)
            client.update_block_type(client.read_block_type_by_slug(slug).id, stale)

    prefect = Path(sys.executable).with_name("prefect")
    done = subprocess.run(
        [str(prefect), "block", "register", "-m", "casey_flows"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Casey Credentials" in done.stdout

    with get_client(sync_client=True) as client:
        catalog = {block_type.name: block_type for block_type in client.read_block_types()}
        schema = client.read_block_schema_by_checksum(CaseyCredentials._calculate_schema_checksum())
    registered = catalog["Casey Credentials"]
    assert registered.slug == slug
    assert registered.description == CaseyCredentials.get_description()
    assert registered.code_example == CaseyCredentials.get_code_example()
    assert str(registered.logo_url) == str(CaseyCredentials._logo_url)
    assert schema.block_type_id == registered.id
    assert {"api_key", "base_url"} <= set(schema.fields["properties"])


COLLECTION_PROBE = """
import json, sys
from importlib.metadata import entry_points
from prefect.blocks.core import Block
from prefect.plugins import load_prefect_collections

declared = [ep.value for ep in entry_points(group="prefect.collections", name="casey_flows")]
loaded = load_prefect_collections()["casey_flows"]
print(json.dumps({
    "declared": declared,
    "loaded": getattr(loaded, "__name__", repr(loaded)),
    "block": Block.get_block_class_from_key("casey-credentials").__name__,
    "modules": sorted(name for name in sys.modules if name.startswith("casey_flows")),
}))
"""


def test_collection_entry_point_loads_the_block_only() -> None:
    """Prefect imports the entry point in every server and worker: it must stay light."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECTION_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["declared"] == ["casey_flows.blocks"]
    assert probe["loaded"] == "casey_flows.blocks"
    assert probe["block"] == "CaseyCredentials"
    heavy = ("casey_flows.flows", "casey_flows.sandbox")
    assert not [name for name in probe["modules"] if name.startswith(heavy)], probe["modules"]
