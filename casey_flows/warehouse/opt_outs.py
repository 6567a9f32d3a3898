"""Opt-outs close the loop: numbers that asked for no more calls, read back for a campaign.

``sync_calls`` loads ``opt_outs`` (one row per connection and number whose conversation set the
opt-out field). A campaign given :class:`WarehouseOptOuts` suppresses those numbers on its own
connection. The model imports no dlt, so the campaign flow's form shows it without the
``warehouse`` extra; reading does need it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from casey_flows.warehouse.logs import WAREHOUSE_LOGGER

logger = logging.getLogger(WAREHOUSE_LOGGER)

OPT_OUTS_TABLE = "opt_outs"


class WarehouseOptOuts(BaseModel):
    """Where ``sync_calls`` loaded opt-outs (the same values you gave ``sync_calls``)."""

    model_config = ConfigDict(frozen=True, title="Warehouse opt-outs")

    destination: Annotated[str, Field(description="dlt destination name.")] = "duckdb"
    dataset_name: Annotated[str, Field(description="Dataset sync_calls loads.")] = "casey"
    destination_credentials_block: Annotated[
        str | None, Field(description="Secret block with the destination's credentials.")
    ] = None
    pipeline_name: Annotated[
        str, Field(description="sync_calls' pipeline (a read waits for its load to finish).")
    ] = "casey_calls"


async def read_opt_outs(where: WarehouseOptOuts, connection_code: str) -> list[str]:
    """Every number that opted out on ``connection_code``.

    No ``opt_outs`` table yet (no sync has loaded one) means no opt-outs, with a warning. A
    warehouse that cannot be read fails the campaign: dialling someone who said "no more calls"
    is worse than not dialling.
    """
    import anyio

    from casey_flows.warehouse.destination import load_destination_credentials

    credentials = await load_destination_credentials(where.destination_credentials_block)
    return await anyio.to_thread.run_sync(_read, where, credentials, connection_code)


def _read(where: WarehouseOptOuts, credentials: object, connection_code: str) -> list[str]:
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    from casey_flows.warehouse.destination import check_reachable, one_writer
    from casey_flows.warehouse.pipeline import make_pipeline

    pipeline = make_pipeline(
        where.pipeline_name, where.destination, where.dataset_name, credentials
    )
    with one_writer(where.pipeline_name):  # a sync in progress finishes first
        check_reachable(pipeline)
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(OPT_OUTS_TABLE)
            try:
                found = client.execute_sql(
                    f"SELECT phone_number FROM {table} WHERE connection_code = %s",
                    connection_code,
                )
            except DatabaseUndefinedRelation:
                logger.warning(
                    "no %s table in %s yet (no sync has loaded one): no opt-outs to apply",
                    OPT_OUTS_TABLE,
                    where.dataset_name,
                )
                return []
    return [row[0] for row in found or [] if row[0]]
