"""The ``sync_calls`` flow: calls and what was said on them, loaded into the team's warehouse.

It runs :func:`casey_flows.warehouse.casey_source` in a dlt pipeline. The Casey key comes from
the Casey credentials block, the destination's credentials from a Prefect Secret block (or dlt's
own config); neither is a parameter. The embedded default is a DuckDB file at an absolute path
(``~/.casey-flows/warehouse/warehouse.duckdb``, moved by ``CASEY_FLOWS_WAREHOUSE_DIR``).
"""

# Annotations are evaluated, not deferred: a served run gets this flow cloudpickled by value
# (see casey_flows/flows/__init__.py).
import time
from typing import Annotated

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run
from pydantic import Field

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME, resolve_credentials
from casey_flows.run_logs import forwarded
from casey_flows.tasks.calls import Credentials
from casey_flows.warehouse.destination import load_destination_credentials
from casey_flows.warehouse.logs import WAREHOUSE_LOGGER
from casey_flows.warehouse.pipeline import make_pipeline, run_source
from casey_flows.warehouse.report import SyncSummary, summarize, summary_markdown
from casey_flows.warehouse.source import (
    DEFAULT_LIST_LAG_SECONDS,
    DEFAULT_OPT_OUT_FIELD,
    casey_source,
)

DEFAULT_PIPELINE_NAME = "casey_calls"
DEFAULT_DATASET_NAME = "casey"


def sync_artifact_key(pipeline_name: str) -> str:
    """One artifact key per pipeline: the UI shows each sync's report as a new version."""
    return f"casey-sync-{pipeline_name}".replace("_", "-").lower()


def _run_name() -> str:
    params = flow_run.parameters
    codes = ", ".join(params.get("connection_codes") or [])
    where = f"{params.get('destination', 'duckdb')}/{params.get('dataset_name', 'casey')}"
    return f"sync {codes} into {where}"


@flow(name="sync-calls", flow_run_name=_run_name)
async def sync_calls(
    connection_codes: Annotated[list[str], Field(min_length=1)],
    credentials_block: Credentials = DEFAULT_BLOCK_NAME,
    destination: str = "duckdb",
    dataset_name: str = DEFAULT_DATASET_NAME,
    destination_credentials_block: str | None = None,
    pipeline_name: str = DEFAULT_PIPELINE_NAME,
    opt_out_field: str = DEFAULT_OPT_OUT_FIELD,
    include_transcripts: bool = True,
    list_lag_seconds: Annotated[float, Field(ge=0)] = DEFAULT_LIST_LAG_SECONDS,
) -> SyncSummary:
    """Load calls, conversations, answers, transcripts and opt-outs into a warehouse.

    Incremental and merged on primary keys: a re-run adds no duplicate rows, calls that were
    still open are re-read until final, and final conversations are never read twice. Publishes
    a markdown artifact (rows per table, new columns, duration, a query to start from).

    Args:
        connection_codes: The Casey call_out connections whose calls to load.
        credentials_block: Name of the Casey Credentials block that holds the API key (or,
            from Python, the block itself).
        destination: Any dlt destination by name: duckdb (the embedded default, a file under
            ~/.casey-flows/warehouse/), postgres, snowflake, bigquery, ...
        dataset_name: Dataset (schema) the tables land in.
        destination_credentials_block: Name of a Prefect Secret block holding the
            destination's credentials (a connection string or a JSON object); never a
            parameter value. Empty: the DuckDB default, or dlt's own config.
        pipeline_name: dlt pipeline name; its state remembers what was loaded.
        opt_out_field: Conversation field whose "yes" adds the number to opt_outs (the table
            a campaign's suppression.opt_outs_from reads).
        include_transcripts: Load transcripts too (one more request per conversation).
        list_lag_seconds: How long a new call may take to show in the call list: each sync
            re-reads this far back before the previous one.

    Returns:
        A small summary: rows per table, new columns, destination and dataset, seconds.

    Example:
        ```python
        import asyncio
        from casey_flows import sync_calls

        summary = asyncio.run(sync_calls(["demo-outbound"]))  # into ~/.casey-flows/warehouse/
        print(summary.rows)  # {"calls": 24, "conversations": 19, ...}
        ```
    """
    logger = get_run_logger()
    started = time.monotonic()
    block = await resolve_credentials(credentials_block)
    credentials = await load_destination_credentials(destination_credentials_block)
    pipeline = make_pipeline(pipeline_name, destination, dataset_name, credentials)
    source = casey_source(
        connection_codes,
        api_key=block.api_key.get_secret_value(),
        base_url=block.base_url,
        opt_out_field=opt_out_field,
        include_transcripts=include_transcripts,
        list_lag_seconds=list_lag_seconds,
    )

    with forwarded(WAREHOUSE_LOGGER, logger) as warnings:
        load_info = await anyio.to_thread.run_sync(run_source, pipeline, source)
    summary = summarize(pipeline, load_info, destination, dataset_name, time.monotonic() - started)
    summary.warnings = warnings
    await acreate_markdown_artifact(
        key=sync_artifact_key(pipeline_name),
        markdown=summary_markdown(summary),
        description=f"Casey sync into {destination} dataset {dataset_name}",
    )
    logger.info("synced %s", ", ".join(f"{n} {t}" for t, n in summary.rows.items()) or "nothing")
    return summary
