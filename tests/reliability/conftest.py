"""Helpers shared by the reliability suite: credentials blocks, contacts, campaign runs.

Everything here talks to real peers: a sandbox over HTTP on 127.0.0.1 and the session's Prefect
test server (``prefect_server`` in ``tests/conftest.py``), or, for restart tests, a Prefect
server this suite starts in its own process.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.client.schemas.objects import State

from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.fast_campaign import ALWAYS_OPEN, FAST, with_fast  # noqa: F401 - re-exported


def numbers(count: int, start: int = 0, prefix: str = "+1303555") -> list[str]:
    """Fictional numbers; the suffixes stay clear of the sandbox's magic ones below 100."""
    assert start + count <= 10_000
    return [f"{prefix}{start + i:04d}" for i in range(count)]


def save_block(name: str, api_key: str, base_url: str, **fields: Any) -> str:
    """Save a CaseyCredentials block on the current Prefect API; returns its name."""
    from casey_flows.blocks import CaseyCredentials

    CaseyCredentials(api_key=api_key, base_url=base_url, **fields).save(name, overwrite=True)
    return name


def run_campaign(sandbox: EmbeddedSandbox | Any, credentials_block: str, **params: Any) -> State:
    """``call_campaign`` in this process, returning its final state (never raising)."""
    from casey_flows.flows.campaign import call_campaign

    if "connection_code" not in params:
        params["connection_code"] = sandbox.call_out_connection
    params = with_fast(params)
    return asyncio.run(
        call_campaign(credentials_block=credentials_block, return_state=True, **params)
    )


def assert_exactly_once(stats: dict[str, Any], phones: list[str]) -> None:
    """The sandbox's own counters: every number dialled once, no dispatch key used twice."""
    assert stats["duplicates"]["dispatch_keys"] == {}
    assert stats["duplicates"]["phone_numbers"] == {}
    assert set(stats["calls_by_phone"]) == set(phones)
    assert set(stats["calls_by_phone"].values()) == {1}


@pytest.fixture
def prefect_api(prefect_server: None) -> None:
    """Marks a test that needs the session Prefect server."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: chaos, crash, fault and fuzz tests (run by default; -m to pick)"
    )
