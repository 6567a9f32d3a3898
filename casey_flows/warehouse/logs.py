"""The warehouse's logger, and its warnings forwarded to a flow run's log and summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from casey_flows.run_logs import forwarded

WAREHOUSE_LOGGER = "casey_flows.warehouse"


@contextmanager
def warnings_to(run_logger: Any) -> Iterator[list[str]]:
    """While open, warehouse warnings are also sent to ``run_logger`` and collected."""
    with forwarded(WAREHOUSE_LOGGER, run_logger) as seen:
        yield seen
