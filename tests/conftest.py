"""Shared fixtures: one sandbox and one Prefect test server for the whole session.

Both are real: the sandbox answers HTTP on 127.0.0.1 and ``prefect_test_harness`` runs a Prefect
server on a temporary SQLite database. Tests that need a clean slate reset the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox

# Fast calls: a 60 s call takes 0.6 s. Seeded, so outcomes of non-magic numbers repeat.
SANDBOX_SPEED = 100.0
CREDENTIALS_BLOCK = "casey-test"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[EmbeddedSandbox]:
    with running_sandbox(seed=7, speed=SANDBOX_SPEED) as running:
        yield running


@pytest.fixture
def clean_sandbox(sandbox: EmbeddedSandbox) -> EmbeddedSandbox:
    """The session sandbox with no calls, no stats and no faults."""
    return sandbox.clean()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.3")
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def credentials_block(prefect_server: None, sandbox: EmbeddedSandbox) -> str:
    """Name of a saved CaseyCredentials block pointing at the session sandbox."""
    from casey_flows.blocks import CaseyCredentials

    CaseyCredentials(api_key=sandbox.api_key, base_url=sandbox.base_url).save(
        CREDENTIALS_BLOCK, overwrite=True
    )
    return CREDENTIALS_BLOCK
