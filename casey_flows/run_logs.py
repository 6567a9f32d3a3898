"""Library code logs to plain Python loggers (it also runs outside flows: in dlt's threads, in
tests, in a team's own scripts). Inside a flow run, its warnings belong in the run's log too,
where the Prefect UI shows them, and in the run's summary."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def forwarded(
    logger_name: str, run_logger: Any, level: int = logging.WARNING
) -> Iterator[list[str]]:
    """While open, records of ``logger_name`` at ``level`` and above also go to ``run_logger``;
    yields the list their messages are collected in."""
    seen: list[str] = []

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            seen.append(message)
            run_logger.log(record.levelno, message)

    handler = Forward(level=level)
    source = logging.getLogger(logger_name)
    source.addHandler(handler)
    try:
        yield seen
    finally:
        source.removeHandler(handler)
