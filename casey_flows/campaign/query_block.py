"""Read a query's result through a saved Prefect database block, to its end, into a RowSpool.

Any block that implements ``prefect.blocks.abstract.DatabaseBlock`` will do; the three that
matter differ, and this module is where that is absorbed:

- ``fetch_many`` is sync on ``SqlAlchemyConnector`` and ``SnowflakeConnector``, and returns a
  coroutine on ``BigQueryWarehouse`` when called from an async flow (and on
  ``AsyncSqlAlchemyConnector`` always). The result decides: a coroutine is awaited.
- Each keeps one cursor per (query, parameters) and hands out its next page on every call
  until it is reset (``reset_connections`` on SQLAlchemy, ``reset_cursors`` on the others).
  Their page size defaults to 1 row, so a page size is always given.
- prefect-sqlalchemy names that cursor by a hash of the statement, and the first execution in
  a process changes what the statement hashes to (SQLAlchemy memoises a cache key on the bind
  type), so its second call ran the query again and returned the first page twice. The
  statement's cache key is computed before the first call, and should a connector still open a
  second cursor, the read starts over from that cursor's first row.
- Rows are SQLAlchemy ``Row`` (``_fields``), mappings (dict cursors), BigQuery rows
  (``keys()``/``values()``) or plain tuples, named by the cursor's description.
- ``SqlAlchemyConnector`` is asked for ``stream_results`` (a server-side cursor where the
  driver has one; ``AsyncSqlAlchemyConnector``'s ``execute`` refuses it), Snowflake for a query
  ``timeout``.

Sync calls run in one worker thread, so the event loop never blocks on the database. The block
is reset and closed when the read ends, also on failure: a cursor left open holds a transaction
(and, on DuckDB, the file).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, cast

from casey_flows.campaign.query_rows import RowSpool
from casey_flows.exceptions import ContactSourceError

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
RELEASE_SECONDS = 10.0
# The block type slugs of the connectors we know, the module each needs, and how to get it.
CONNECTORS: dict[str, tuple[str, str]] = {
    "sqlalchemy-connector": ("prefect_sqlalchemy", "pip install 'casey-flows[sql]'"),
    "async-sqlalchemy-connector": ("prefect_sqlalchemy", "pip install 'casey-flows[sql]'"),
    "snowflake-connector": ("prefect_snowflake", "pip install prefect-snowflake"),
    "bigquery-warehouse": ("prefect_gcp", "pip install 'prefect-gcp[bigquery]'"),
}
_SQLALCHEMY = frozenset({"SqlAlchemyConnector", "AsyncSqlAlchemyConnector"})
_SQLALCHEMY_SYNC = "SqlAlchemyConnector"  # an async connection refuses stream_results
_SNOWFLAKE = frozenset({"SnowflakeConnector"})
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_PASSWORD_PAIR = re.compile(r"\b(password|passwd|pwd)\s*=\s*[^\s;,&]+", re.IGNORECASE)
_MAX_MESSAGE = 400


def _class_names(block: object) -> set[str]:
    """The block's class and its bases by name: no connector package is imported to ask."""
    return {cls.__name__ for cls in type(block).__mro__}


def _missing_block(ref: str) -> str:
    slug, name = ref.split("/", 1)
    example = (
        f"SqlAlchemyConnector(connection_info=<SQLAlchemy URL>).save({name!r})"
        if "sqlalchemy" in slug
        else f"<the block class>(...).save({name!r})"
    )
    return (
        f"no Prefect block {ref!r} (block type {slug!r}, name {name!r}): create it in the UI "
        f"(Blocks, +) or from Python, e.g. {example}; `prefect block ls` lists the saved "
        "blocks as <type slug>/<name>"
    )


async def load_database_block(ref: str) -> Any:
    """The saved block ``<block-type-slug>/<name>``, checked to be a database block.

    Raises:
        ContactSourceError: no such block, its connector package is not installed, or it is
            not a database block.
    """
    from prefect.blocks.abstract import DatabaseBlock
    from prefect.blocks.core import Block

    slug = ref.split("/", 1)[0]
    module, install = CONNECTORS.get(slug, ("", ""))
    if module:  # imported here so its block types are registered before the load
        try:
            importlib.import_module(module)
        except ImportError:
            raise ContactSourceError(
                f"block {ref!r} is a {slug} block, which needs the {module.replace('_', '-')} "
                f"package on the worker: {install}"
            ) from None
    try:
        block = await Block.aload(ref)
    except ValueError as exc:
        if "Unable to find block document" in str(exc):
            raise ContactSourceError(_missing_block(ref)) from None
        raise ContactSourceError(f"block {ref!r} cannot be loaded: {first_line(exc)}") from None
    except KeyError:  # a block type no installed package registers
        raise ContactSourceError(
            f"block {ref!r}: no installed package defines the block type {slug!r}; install its "
            "Prefect integration on the worker (e.g. prefect-sqlalchemy, prefect-snowflake, "
            "prefect-gcp)"
        ) from None
    if not isinstance(block, DatabaseBlock):
        raise ContactSourceError(
            f"block {ref!r} is a {type(block).__name__}, not a database block: contacts_query "
            "reads through a SqlAlchemyConnector, SnowflakeConnector, BigQueryWarehouse or any "
            "other DatabaseBlock"
        )
    return block


def scrub(text: str) -> str:
    """Passwords out of a message: ``user:secret@`` in URLs, ``password=...`` pairs."""
    text = _URL_USERINFO.sub(r"\1***@", text)
    return _PASSWORD_PAIR.sub(r"\1=***", text)[:_MAX_MESSAGE]


def first_line(exc: BaseException) -> str:
    """``Type: first line`` of an error: drivers append the SQL and the bound parameters below
    it, and nothing of the block's settings (a URL-form connection holds its password) is
    shown."""
    lines = str(exc).strip().splitlines()
    return scrub(f"{type(exc).__name__}: {lines[0] if lines else ''}")


def _row_names(row: Any) -> list[str] | None:
    """The column names a row carries itself, or None for a plain tuple."""
    fields = getattr(row, "_fields", None)
    if fields is not None:
        return [str(f) for f in fields]
    if isinstance(row, Mapping):
        return [str(k) for k in row]
    keys = getattr(row, "keys", None)
    if callable(keys):
        return [str(k) for k in keys()]
    return None


def _row_values(row: Any, names: Sequence[str]) -> Sequence[Any]:
    if getattr(row, "_fields", None) is not None:
        return tuple(row)
    if isinstance(row, Mapping):
        return [row.get(n) for n in names]
    values = getattr(row, "values", None)
    if callable(values) and callable(getattr(row, "keys", None)):
        found = dict(zip(row.keys(), values(), strict=False))
        return [found.get(n) for n in names]
    # A DB-API row (Any to the checker) that is none of the above: already its values in order.
    return cast("Sequence[Any]", row)


def _open_cursors(block: Any) -> dict[str, Any] | None:
    """The connector's cursors by query hash (private in each connector: read defensively)."""
    for attribute in ("_unique_results", "_unique_cursors"):
        found = getattr(block, attribute, None)
        if isinstance(found, dict):
            return found
    return None


def _described_columns(block: Any) -> list[str] | None:
    """Column names from the open cursor: SQLAlchemy's result keys, else the DB-API
    description."""
    for cursor in (_open_cursors(block) or {}).values():
        keys = getattr(cursor, "keys", None)
        if callable(keys):
            return [str(k) for k in keys()]
        description = getattr(cursor, "description", None)
        if description:
            return [str(column[0]) for column in description]
    return None


class BlockReader:
    """One query, read through one loaded block to its last row."""

    def __init__(
        self,
        block: Any,
        ref: str,
        query: str,
        parameters: dict[str, Any] | None,
        timeout_seconds: float,
        spool: RowSpool,
    ) -> None:
        self.block = block
        self.ref = ref
        self.query = query
        self.spool = spool
        self.stopped = False
        self._cursors = 0
        kinds = _class_names(block)
        self._sqlalchemy = bool(kinds & _SQLALCHEMY)
        options: dict[str, Any] = {}
        if _SQLALCHEMY_SYNC in kinds:
            options["stream_results"] = True
        elif kinds & _SNOWFLAKE:
            options["timeout"] = math.ceil(timeout_seconds)
        self._fetch: Callable[[], Any] = partial(
            block.fetch_many, query, parameters=parameters or None, size=PAGE_SIZE, **options
        )

    async def read(self) -> None:
        """Every page into the spool. Sync connectors are read in one worker thread; a connector
        whose ``fetch_many`` gives a coroutine is awaited here."""
        import anyio

        pending = await anyio.to_thread.run_sync(self._read_sync, abandon_on_cancel=True)
        if pending is None:
            return
        page = await pending
        while page:
            self._take(page)
            result = self._fetch()
            page = await result if inspect.isawaitable(result) else result
        self._take([])

    def _read_sync(self) -> Any:
        self._warm_up()
        page = self._fetch()
        if asyncio.iscoroutine(page):
            return page  # an async connector: read on in the event loop
        while page and not self.stopped:
            self._take(page)
            page = self._fetch()
        self._take([])
        return None

    def _warm_up(self) -> None:
        """Compute the statement's cache key once, so prefect-sqlalchemy's hash of it is the
        same on every call (see the module's docstring)."""
        if not self._sqlalchemy:
            return
        try:
            from sqlalchemy import text

            text(self.query)._generate_cache_key()
        except Exception:  # the read itself will report a statement SQLAlchemy cannot take
            pass

    def _take(self, page: Sequence[Any]) -> None:
        cursors = _open_cursors(self.block)
        if cursors is not None:
            if self._cursors and len(cursors) > self._cursors:
                logger.warning(
                    "block %s ran the query again instead of reading on; reading its result "
                    "from the first row",
                    self.ref,
                )
                self.spool.restart()
            self._cursors = len(cursors)
        if self.spool.columns is None:
            names = _row_names(page[0]) if page else None
            names = names or _described_columns(self.block)
            if names is None:
                if page:
                    raise ContactSourceError(
                        f"block {self.ref!r} returned rows without column names (plain tuples "
                        "and no cursor description): use a connector or cursor type that names "
                        "its columns (e.g. a dict cursor)"
                    )
                return  # no rows and no names: nothing to check, nobody to call
            self.spool.set_columns(names)
        columns = self.spool.columns
        assert columns is not None
        self.spool.add(_row_values(row, columns) for row in page)

    async def release(self) -> None:
        """Reset the cursors, close connections (each connector spells it its own way)."""
        import anyio

        self.stopped = True
        for name in ("reset_connections", "reset_cursors", "close"):
            method = getattr(self.block, name, None)
            if not callable(method):
                continue
            try:
                result = await anyio.to_thread.run_sync(method, abandon_on_cancel=True)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                logger.warning("could not %s block %s: %s", name, self.ref, first_line(exc))
