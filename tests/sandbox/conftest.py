"""Fixtures for the sandbox's own tests: real HTTP to a sandbox on 127.0.0.1, high speed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox

FAST = {
    "speed": 1000.0,  # a 60 s call takes 60 ms
    "rate_limit_per_s": 0,
    "concurrency_cap": 0,
}


@pytest.fixture(scope="module")
def sandbox_module() -> Iterator[EmbeddedSandbox]:
    """One fast sandbox per test module (limits off); tests reset it before use."""
    with running_sandbox(**FAST) as sb:
        yield sb


@pytest.fixture
def sb(sandbox_module: EmbeddedSandbox) -> EmbeddedSandbox:
    return sandbox_module.clean()


@pytest.fixture
def client(sb: EmbeddedSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=10) as c:
        yield c
