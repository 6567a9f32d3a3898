"""Registers the ``e2e`` marker: ``pytest -m e2e`` selects the end-to-end tests (they also run
in the default ``make test``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real Prefect server, workers and deployments")
