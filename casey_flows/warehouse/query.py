"""A contacts query against the embedded DuckDB warehouse that ``sync_calls`` loads.

"Everyone who said preferred_time=evening last week" needs no database block: the query runs
through dlt's SQL client on the pipeline ``sync_calls`` writes with its defaults (the DuckDB
file under ``CASEY_FLOWS_WAREHOUSE_DIR``, dataset ``casey`` first on the search path), under the
pipeline's one-writer lock, read to its last row into the spool and closed before the campaign
dials: a sync waits for the read, never for the campaign.
"""

from __future__ import annotations

from typing import Any

from casey_flows.campaign.query_block import PAGE_SIZE
from casey_flows.campaign.query_rows import RowSpool
from casey_flows.warehouse.opt_outs import WarehouseOptOuts


class Interrupter:
    """Set while a query runs: interrupts it from another thread (a timeout)."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.stopped = False

    def interrupt(self) -> None:
        self.stopped = True
        connection = self.connection
        if connection is not None and hasattr(connection, "interrupt"):
            connection.interrupt()


def spool_warehouse_query(
    query: str, parameters: dict[str, Any] | None, spool: RowSpool, interrupter: Interrupter
) -> None:
    """Run ``query`` on the embedded warehouse and write every row to ``spool`` (blocking).

    ``parameters`` are DuckDB's named parameters (``$name`` in the query).
    """
    from casey_flows.warehouse.destination import one_writer
    from casey_flows.warehouse.pipeline import make_pipeline

    where = WarehouseOptOuts()  # sync_calls' defaults: the embedded DuckDB file
    pipeline = make_pipeline(where.pipeline_name, where.destination, where.dataset_name)
    with one_writer(where.pipeline_name), pipeline.sql_client() as client:
        if interrupter.stopped:  # timed out while a sync held the lock: run nothing
            return
        interrupter.connection = client.native_connection
        try:
            with client.execute_query(query, **(parameters or {})) as cursor:
                spool.set_columns([str(column[0]) for column in cursor.description or []])
                while not interrupter.stopped:
                    page = cursor.fetchmany(PAGE_SIZE)
                    if not page:
                        break
                    spool.add(page)
        finally:
            interrupter.connection = None
