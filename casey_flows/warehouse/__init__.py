"""Calls and what was said on them, into the team's warehouse with dlt (the ``warehouse`` extra).

``casey_source`` is a dlt source for any dlt pipeline; ``casey_flows.flows.sync.sync_calls`` is
the Prefect flow that runs it. Names resolve on first use: ``WarehouseOptOuts`` (a campaign
parameter type) needs no dlt; the rest do. Importing ``casey_flows`` never needs dlt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casey_flows._extras import lazy_attributes

if TYPE_CHECKING:
    from casey_flows.exceptions import WarehouseConfigError as WarehouseConfigError
    from casey_flows.warehouse.destination import default_duckdb_path as default_duckdb_path
    from casey_flows.warehouse.destination import warehouse_dir as warehouse_dir
    from casey_flows.warehouse.opt_outs import WarehouseOptOuts as WarehouseOptOuts
    from casey_flows.warehouse.opt_outs import read_opt_outs as read_opt_outs
    from casey_flows.warehouse.report import SyncSummary as SyncSummary
    from casey_flows.warehouse.report import join_query as join_query
    from casey_flows.warehouse.source import casey_source as casey_source

_WHERE = {
    "WarehouseConfigError": "casey_flows.exceptions",
    "default_duckdb_path": "casey_flows.warehouse.destination",
    "warehouse_dir": "casey_flows.warehouse.destination",
    "WarehouseOptOuts": "casey_flows.warehouse.opt_outs",
    "read_opt_outs": "casey_flows.warehouse.opt_outs",
    "SyncSummary": "casey_flows.warehouse.report",
    "join_query": "casey_flows.warehouse.report",
    "casey_source": "casey_flows.warehouse.source",
}

__all__ = list(_WHERE)


__getattr__ = lazy_attributes(__name__, _WHERE)
