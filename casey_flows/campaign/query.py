"""Contacts (or do-not-call numbers) from a SQL query: a saved Prefect database block, or the
embedded DuckDB warehouse ``sync_calls`` loads.

The result is read to its end once, at the start, into a JSON-lines file in a temporary
directory on the worker, and the cursor and connection are closed before anyone is dialled:
"the selected rows" are that snapshot. A cursor held open for a campaign's length would keep a
transaction open on the database (and, on DuckDB, block ``sync_calls``' writes). Columns map
like CSV headers (``casey_flows.campaign.query_rows``); a row's number in a rejection is its
1-based position in the result.

The model imports neither Prefect nor a connector, so the campaign form shows it without them;
reading imports what it needs.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from casey_flows.campaign.contacts import ContactBatch, parse_rows
from casey_flows.campaign.query_block import BlockReader, first_line, load_database_block
from casey_flows.campaign.query_rows import RowSpool, numbered_rows, spool_phone_numbers
from casey_flows.exceptions import ContactSourceError

logger = logging.getLogger(__name__)

SPOOL_PREFIX = "casey-flows-query-"

DEFAULT_TIMEOUT_SECONDS = 300.0
EMBEDDED_WAREHOUSE = "the embedded warehouse (DuckDB, as sync_calls loads it)"
# Words in a driver's first line that mean the database did not answer, not that the query
# was wrong: the advice differs (check the server and the block, not the SQL).
_UNREACHABLE = re.compile(
    r"connection refused|could not connect|can't connect|unable to connect|connection to server|"
    r"timed out|timeout expired|name or service not known|could not translate host|"
    r"nodename nor servname|no route to host|network is unreachable|connection reset|"
    r"server closed the connection|unable to open database file|could not set lock",
    re.IGNORECASE,
)


class ContactsQuery(BaseModel):
    """A SQL query whose rows are the contacts: one row per person, a ``phone_number`` column."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", title="Contacts from a SQL query", hide_input_in_errors=True
    )

    block: str | None = Field(
        default=None,
        description="The saved Prefect database block to query, as <block-type-slug>/<name>, "
        "e.g. sqlalchemy-connector/crm (SqlAlchemyConnector: PostgreSQL, MySQL, SQLite), "
        "snowflake-connector/dwh or bigquery-warehouse/analytics. Empty: the embedded DuckDB "
        "warehouse that sync_calls loads (tables calls, conversation_answers, ...).",
    )
    query: str = Field(
        min_length=1,
        description="SQL that selects one row per contact, with a phone_number column (E.164 "
        "text, e.g. +12025550100) and optionally name, timezone, participant_id and context.* "
        "or context_* columns. Read once, to its end, before anyone is dialled.",
    )
    parameters: dict[str, Any] | None = Field(
        default=None,
        description="Values for the query's placeholders, in the database's own style: :name "
        "for SQLAlchemy, %(name)s for Snowflake and BigQuery, $name for the embedded warehouse.",
    )
    timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS,
        gt=0,
        le=86400,
        description="Give up reading the query's result after this many seconds (the campaign "
        "then fails before dialling anyone).",
    )

    @field_validator("block", mode="before")
    @classmethod
    def _slug_and_name(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        slug, _, name = text.partition("/")
        if not (slug and name):
            example = "crm" if "/" in text else text
            raise ValueError(
                f"block must be <block-type-slug>/<name>, e.g. sqlalchemy-connector/{example}"
                " (the slug is on the block's page in the UI; `prefect block ls` lists both); "
                "leave it empty for the embedded warehouse"
            )
        return text

    @property
    def source(self) -> str:
        """The source, named for a person (the block's name, never its settings)."""
        return f"block {self.block}" if self.block else EMBEDDED_WAREHOUSE


async def read_query_contacts(
    query: ContactsQuery, *, default_timezone: str | None = None, default_region: str | None = None
) -> ContactBatch:
    """The query's rows as validated contacts (rejections numbered by position in the result).

    Raises:
        ContactSourceError: the block, the query, its columns or the database; the message
            says what to fix and never shows a password or connection string.
    """
    async with _spooled(query) as spooled:
        batch = parse_rows(
            numbered_rows(spooled.path),
            default_timezone=default_timezone,
            default_region=default_region,
        )
        batch.warnings[:0] = spooled.warnings
    return batch


async def read_query_numbers(query: ContactsQuery) -> list[str]:
    """The raw ``phone_number`` values the query selects (for a do-not-call list), blanks left
    out. Same reading and errors as :func:`read_query_contacts`."""
    async with _spooled(query) as spooled:
        return list(spool_phone_numbers(spooled.path))


def _warned(query: ContactsQuery, spool: RowSpool) -> list[str]:
    found = spool.warnings()
    for warning in found:
        logger.warning("contacts query on %s: %s", query.source, warning)
    return found


class SpooledQuery(NamedTuple):
    """A query's result on the worker's disk: the JSONL file, its rows, and what to know."""

    path: Path
    rows: int
    warnings: list[str]


async def spool_query(query: ContactsQuery, directory: Path) -> SpooledQuery:
    """The query's result read to its end into a file in ``directory`` (the cursor and the
    connection are closed before this returns); read it back with :func:`numbered_rows`.

    Raises:
        ContactSourceError: as :func:`read_query_contacts`.
    """
    spool = RowSpool(directory)
    try:
        if query.block:
            await _read_block(query, query.block, spool)
        else:
            await _read_warehouse(query, spool)
    finally:
        spool.close()
    return SpooledQuery(spool.path, spool.rows, _warned(query, spool))


@asynccontextmanager
async def _spooled(query: ContactsQuery) -> AsyncIterator[SpooledQuery]:
    """The query's result read to its end into a spool that lives while the context is open."""
    with tempfile.TemporaryDirectory(prefix=SPOOL_PREFIX) as directory:
        yield await spool_query(query, Path(directory))


async def _read_block(query: ContactsQuery, ref: str, spool: RowSpool) -> None:
    import anyio

    block = await load_database_block(ref)
    reader = BlockReader(block, ref, query.query, query.parameters, query.timeout_seconds, spool)
    try:
        with anyio.fail_after(query.timeout_seconds):
            await reader.read()
    except ContactSourceError:
        raise
    except TimeoutError:
        raise ContactSourceError(_timed_out(query)) from None
    except Exception as exc:
        raise ContactSourceError(_failed(query, exc)) from None
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            await reader.release()


async def _read_warehouse(query: ContactsQuery, spool: RowSpool) -> None:
    import anyio

    from casey_flows._extras import import_module

    warehouse = import_module("casey_flows.warehouse.query")  # needs the warehouse extra
    interrupter = warehouse.Interrupter()
    try:
        with anyio.fail_after(query.timeout_seconds):
            await anyio.to_thread.run_sync(
                warehouse.spool_warehouse_query,
                query.query,
                query.parameters,
                spool,
                interrupter,
                abandon_on_cancel=True,
            )
    except ContactSourceError:
        raise
    except TimeoutError:
        interrupter.interrupt()  # the thread ends, and with it the lock sync_calls waits for
        raise ContactSourceError(_timed_out(query)) from None
    except Exception as exc:
        raise ContactSourceError(_failed(query, exc)) from None


def _timed_out(query: ContactsQuery) -> str:
    return (
        f"contacts query on {query.source}: the database did not answer with the whole result "
        f"within {query.timeout_seconds:g} s (timeout_seconds). Check that the database answers "
        "from this worker, make the query cheaper, or raise timeout_seconds"
    )


def _failed(query: ContactsQuery, exc: BaseException) -> str:
    """What went wrong, from the driver's first line, and what to do about it."""
    line = first_line(exc)
    if isinstance(exc, ImportError):
        return (
            f"contacts query on {query.source}: a package the database needs is not installed "
            f"on this worker ({line}); pip install it"
        )
    if _UNREACHABLE.search(line):
        return (
            f"contacts query on {query.source}: could not connect to the database ({line}); "
            "check that it is running and reachable from this worker, and the host, port and "
            "credentials saved in the block"
            + ("" if query.block else "; a DuckDB file takes one writer: close other programs")
        )
    hint = (
        ""
        if query.block
        else " (tables sync_calls loads: calls, conversations, conversation_answers, "
        "conversation_fields, transcript_messages, opt_outs; has a sync run yet?)"
    )
    return (
        f"contacts query on {query.source} failed: {line}; fix the query (try it in a SQL "
        f"client on the same database){hint}"
    )
