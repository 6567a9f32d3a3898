"""Run one sync and SIGKILL this process in the middle of its load step.

Used by ``test_crash.py``: the kill lands after dlt has finished the first table's load job
(``create_followup_jobs`` runs when a job completes) and before the package is complete, so
the destination holds part of the package and dlt's local state says it is still pending.

Usage: python -m tests.warehouse.load_then_die BASE_URL API_KEY CONNECTION PIPELINE
(the warehouse directory comes from CASEY_FLOWS_WAREHOUSE_DIR).
"""

from __future__ import annotations

import os
import signal
import sys

from dlt.load.load import Load

from casey_flows.warehouse import casey_source
from casey_flows.warehouse.pipeline import make_pipeline


def die_after_first_job(self: Load, *args: object, **kwargs: object) -> object:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def main() -> None:
    base_url, api_key, connection, pipeline_name = sys.argv[1:5]
    Load.create_followup_jobs = die_after_first_job  # type: ignore[method-assign]
    pipeline = make_pipeline(pipeline_name, "duckdb", "casey")
    pipeline.run(casey_source([connection], api_key=api_key, base_url=base_url))
    raise SystemExit("the load finished: the kill never happened")


if __name__ == "__main__":
    main()
