"""The dlt pipeline a sync runs: made in one place, run so an interrupted load finishes first."""

from __future__ import annotations

import logging
import os
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from casey_flows.warehouse.destination import (
    check_reachable,
    one_writer,
    pipelines_dir,
    resolve_destination,
)

logger = logging.getLogger(__name__)

# dlt reports anonymous usage to dltHub unless told not to. A library running inside a team's
# workers does not phone a third party on its own: off unless the user chose otherwise.
TELEMETRY_ENV = "RUNTIME__DLTHUB_TELEMETRY"


def make_pipeline(
    pipeline_name: str, destination: str, dataset_name: str, credentials: Any | None = None
) -> dlt.Pipeline:
    """A pipeline whose state lives in :func:`pipelines_dir` (absolute, not the working dir)."""
    os.environ.setdefault(TELEMETRY_ENV, "false")
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        pipelines_dir=str(pipelines_dir()),
        destination=resolve_destination(destination, credentials),
        dataset_name=dataset_name,
    )


def run_source(pipeline: dlt.Pipeline, source: Any) -> LoadInfo:
    """Load ``source``, one writer at a time, after checking the destination answers.

    A load killed midway leaves its package pending; dlt's ``run`` would load it and skip the
    new extract, so it is finished here first (merged on primary keys: its rows land once).
    """
    with one_writer(pipeline.pipeline_name):
        check_reachable(pipeline)
        if pipeline.has_pending_data:
            logger.warning("finishing a load that was interrupted earlier, then syncing")
            pipeline.run()
        return pipeline.run(source, loader_file_format=_file_format(pipeline))


def _file_format(pipeline: dlt.Pipeline) -> Any:
    """JSON lines for DuckDB: dlt's default there (SQL inserts) took 8.8 s and 2.2 GB to load
    10,000 calls, JSON lines 0.85 s and 366 MB (benchmarks/warehouse_sync.py). Elsewhere, dlt's
    choice."""
    destination = pipeline.destination
    return "jsonl" if destination and destination.destination_name == "duckdb" else None
