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

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.sandbox.embedded import EmbeddedSandbox

ALWAYS_OPEN = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
FAST: dict[str, Any] = {
    "calling_window": ALWAYS_OPEN,
    "limits": {"poll_interval_seconds": 0.2, "max_requests_per_second": 200.0},
    "exports": {"call_events": "none"},
    # The sandbox's list does not lag unless a test says so: re-dial after 2 s, not 90.
    "safety": {"redial_after_seconds": 2.0},
}


def with_fast(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` over ``FAST``, a group given in both merged field by field (a group passed as
    is replaces the whole group: the test's limits would drop FAST's fast polls)."""
    merged = {**FAST, **params}
    for group, fields in FAST.items():
        if isinstance(fields, dict) and isinstance(params.get(group), dict):
            merged[group] = {**fields, **params[group]}
    return merged


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
