"""Small polling helpers for tests that drive the sandbox over HTTP (ours and other packages').

Kept in the package, not in a conftest, so any test suite can import them without path tricks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from casey_flows.sandbox.vocabulary import TERMINAL_STATUSES

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not hold in time (an AssertionError so tests fail, not error)."""


def wait_for(predicate: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_for_terminal(
    client: httpx.Client, calls_path: str, call_id: str, timeout: float = 10.0
) -> dict[str, Any]:
    """GET the call until its status is terminal; return the call object."""

    def done() -> dict[str, Any] | None:
        data = client.get(f"{calls_path}/{call_id}").json()["data"]
        return data if data["status"] in TERMINAL_STATUSES else None

    return wait_for(done, timeout)
