"""The warehouse code logs to a plain Python logger (it runs in dlt's threads and in teams' own
dlt pipelines); inside a flow run, its warnings also belong in the run's log and summary."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WAREHOUSE_LOGGER = "casey_flows.warehouse"


@contextmanager
def warnings_to(run_logger: Any) -> Iterator[list[str]]:
    """While open, warehouse warnings are also sent to ``run_logger`` and collected."""
    seen: list[str] = []

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            seen.append(message)
            run_logger.log(record.levelno, message)

    handler = Forward(level=logging.WARNING)
    source_logger = logging.getLogger(WAREHOUSE_LOGGER)
    source_logger.addHandler(handler)
    try:
        yield seen
    finally:
        source_logger.removeHandler(handler)
