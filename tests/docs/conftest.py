"""What the docs' snippets take for granted, set up here so the docs stay plain.

A snippet in README.md or docs/ is written for a reader with a sandbox on their machine, a saved
``casey`` credentials block and files in their working directory. The fixtures give it exactly
that: the session sandbox (over HTTP on 127.0.0.1) and Prefect test server, a ``casey`` block
pointing at the sandbox, ``CASEY_API_KEY`` / ``CASEY_BASE_URL`` for the client's own snippets, a
working directory holding the files the snippets name (``contacts.csv``, ``do-not-call.txt``),
and the embedded warehouse and Prefect's local storage in that directory, never the home one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from casey_flows.blocks import CaseyCredentials
from casey_flows.client import CaseyClient
from casey_flows.sandbox.embedded import EmbeddedSandbox
from casey_flows.warehouse.destination import WAREHOUSE_DIR_ENV

# The block name the docs use: the flows' default ``credentials_block``.
DOCS_BLOCK = "casey"

# Numbers whose calls end ``completed`` at once on the sandbox (magic suffix 0100), so a
# snippet's campaign never waits for a retry (``retries.delay_seconds`` is minutes).
CONTACTS_CSV = """\
phone_number,name,timezone,context.first_name
+1 (202) 555-0100,Ada Lovelace,America/New_York,Ada
+49 30 1234 0100,Max Mustermann,Europe/Berlin,Max
"""
DO_NOT_CALL = "# one number a line\n+12025550199\n"

# Calls placed before the warehouse is loaded: not magic, so their conversations draw answers
# (appointment_confirmed, preferred_time, opt_out) like a real day's calls.
WAREHOUSE_NUMBERS = [f"+1202555{n:04d}" for n in range(2000, 2012)]


@pytest.fixture(scope="module")
def snippet_workspace(
    sandbox: EmbeddedSandbox,
    credentials_block: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """The working directory a snippet runs in, with everything the docs assume around it."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    sandbox.clean()
    CaseyCredentials(api_key=sandbox.api_key, base_url=sandbox.base_url).save(
        DOCS_BLOCK, overwrite=True
    )
    workdir = tmp_path_factory.mktemp("docs-snippets")
    (workdir / "contacts.csv").write_text(CONTACTS_CSV, encoding="utf-8")
    (workdir / "do-not-call.txt").write_text(DO_NOT_CALL, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        patch.setenv("CASEY_API_KEY", sandbox.api_key)
        patch.setenv("CASEY_BASE_URL", sandbox.base_url)
        patch.setenv(WAREHOUSE_DIR_ENV, str(workdir / "warehouse"))
        with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: workdir / "storage"}):
            try:
                yield workdir
            finally:
                asyncio.run(_delete_block(DOCS_BLOCK))


async def _delete_block(name: str) -> None:
    """The session's other tests find no ``casey`` block, as before this module ran."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        document = await client.read_block_document_by_name(name, "casey-credentials")
        await client.delete_block_document(document.id)


@pytest.fixture(scope="module")
def loaded_warehouse(sandbox: EmbeddedSandbox, snippet_workspace: Path) -> Path:
    """The embedded warehouse after ``sync_calls`` loaded a dozen ended calls (for snippets that
    query it: ``<!-- snippet: needs=warehouse -->``)."""
    from casey_flows import sync_calls
    from casey_flows.sandbox.testing import wait_for_terminal

    with CaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        calls = [
            client.create_call(sandbox.call_out_connection, number, name=f"Contact {i}")
            for i, number in enumerate(WAREHOUSE_NUMBERS)
        ]
    with httpx.Client(base_url=sandbox.base_url, headers=sandbox.headers, timeout=10) as http:
        for call in calls:
            wait_for_terminal(http, sandbox.calls_path(), call.id)
    asyncio.run(sync_calls([sandbox.call_out_connection], credentials_block=DOCS_BLOCK))
    return snippet_workspace / "warehouse"
