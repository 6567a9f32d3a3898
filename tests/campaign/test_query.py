"""Reading a query's result into the spool, connector by connector, without a Prefect server.

SQLAlchemy is the real prefect-sqlalchemy block on a SQLite file. Snowflake and BigQuery cannot
run here: their stand-ins below are DatabaseBlocks that behave as those connectors do where it
matters (BigQuery's ``fetch_many`` is an ``async_dispatch`` that gives a coroutine in an async
context, and its rows answer ``keys()``/``values()``; Snowflake's rows are plain tuples named
only by the cursor's description, in upper case; both reset with ``reset_cursors``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.abstract import DatabaseBlock
from pydantic import ValidationError

from casey_flows.campaign.contacts import parse_rows
from casey_flows.campaign.query import ContactsQuery
from casey_flows.campaign.query_block import PAGE_SIZE, BlockReader, scrub
from casey_flows.campaign.query_rows import (
    RowSpool,
    contact_key,
    numbered_rows,
    spool_phone_numbers,
)
from casey_flows.exceptions import ContactSourceError

ROWS = 2 * PAGE_SIZE + 345  # three pages


def written(spool: RowSpool) -> Path:
    """The spool's file, every row written to it (closed for writing, as a read leaves it)."""
    spool.close()
    return spool.path


def phones(count: int, start: int = 0) -> list[str]:
    return [f"+1202555{start + i:04d}" for i in range(count)]


# -- the model -------------------------------------------------------------------------------


def test_block_is_slug_and_name_and_empty_means_the_embedded_warehouse() -> None:
    assert ContactsQuery(block="sqlalchemy-connector/crm", query="select 1").block == (
        "sqlalchemy-connector/crm"
    )
    assert ContactsQuery(block="  ", query="select 1").block is None
    assert ContactsQuery(query="select 1").source.startswith("the embedded warehouse")
    with pytest.raises(ValidationError) as refused:
        ContactsQuery(block="crm", query="select 1")
    assert "e.g. sqlalchemy-connector/crm" in str(refused.value)
    with pytest.raises(ValidationError) as no_name:
        ContactsQuery(block="sqlalchemy-connector/", query="select 1")
    assert "e.g. sqlalchemy-connector/crm" in str(no_name.value)
    with pytest.raises(ValidationError):
        ContactsQuery(block="sqlalchemy-connector/crm", query="")


def test_every_field_is_described_for_the_run_form() -> None:
    schema = ContactsQuery.model_json_schema()
    assert schema["title"] == "Contacts from a SQL query"
    assert all(field.get("description") for field in schema["properties"].values())


# -- column names and the spool --------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "key"),
    [
        ("phone_number", "phone_number"),
        ("PHONE_NUMBER", "phone_number"),  # Snowflake's unquoted names
        ("Name", "name"),
        ("context.first_name", "context.first_name"),
        ("context_first_name", "context.first_name"),  # BigQuery: no dots in names
        ("CONTEXT_FIRST_NAME", "context.first_name"),
        ("context_firstName", "context.firstName"),
        ("segment", "segment"),
    ],
)
def test_columns_map_like_csv_headers(column: str, key: str) -> None:
    assert contact_key(column) == key


def test_a_result_without_phone_number_lists_the_columns_found(tmp_path: Path) -> None:
    spool = RowSpool(tmp_path)
    with pytest.raises(ContactSourceError) as missing:
        spool.set_columns(["mobile", "name"])
    assert "no phone_number column (columns found: 'mobile', 'name')" in str(missing.value)
    assert "SELECT mobile AS phone_number" in str(missing.value)


def test_rows_are_numbered_by_their_position_in_the_result(tmp_path: Path) -> None:
    spool = RowSpool(tmp_path)
    spool.set_columns(["phone_number", "context_visit"])
    spool.add([("+12025550100", "2026-12-01"), ("2025550101", None), ("+12025550102", 3)])
    batch = parse_rows(numbered_rows(written(spool)))
    assert [r.row for r in batch.rejected] == [2]
    assert batch.contacts[1].context == {"visit": 3}
    assert spool.warnings() == []


def test_a_phone_column_read_as_a_number_gets_a_hint_and_each_row_its_rejection(
    tmp_path: Path,
) -> None:
    spool = RowSpool(tmp_path)
    spool.set_columns(["PHONE_NUMBER"])
    spool.add([(12025550100,), ("+12025550101",)])
    (hint,) = spool.warnings()
    assert "'PHONE_NUMBER' holds numbers" in hint
    assert "'+' || CAST(phone AS TEXT)" in hint
    batch = parse_rows(numbered_rows(written(spool)))
    assert [(r.row, r.field) for r in batch.rejected] == [(1, "phone_number")]


def test_messages_lose_passwords() -> None:
    text = "could not connect to postgresql+psycopg2://app:s3cret@db:5432/crm password=hunter2"
    assert "s3cret" not in scrub(text)
    assert "hunter2" not in scrub(text)


# -- connectors ------------------------------------------------------------------------------


class _Cursor:
    """A DB-API cursor over a list, as the connectors keep one per query."""

    def __init__(self, names: list[str], rows: list[Any]) -> None:
        self.description = [(n, None, None, None, None, None, None) for n in names]
        self._rows = iter(rows)
        self.closed = False

    def fetchmany(self, size: int) -> list[Any]:
        page = []
        for row in self._rows:
            page.append(row)
            if len(page) == size:
                break
        return page

    def close(self) -> None:
        self.closed = True


class _Connector(DatabaseBlock):
    """The shape the Snowflake and BigQuery connectors share: one cursor per input hash,
    ``fetch_size`` 1, ``reset_cursors``; what each page returns is up to the subclass."""

    fetch_size: int = 1
    _names: list[str] = []
    _rows: list[Any] = []
    _unique_cursors: dict[str, _Cursor] | None = None
    _calls: list[dict[str, Any]] | None = None
    _closed: bool = False

    def _cursor(self, operation: str, parameters: Any, options: dict[str, Any]) -> _Cursor:
        if self._unique_cursors is None:
            self._unique_cursors, self._calls = {}, []
        assert self._calls is not None
        self._calls.append(options)
        key = f"{operation}|{parameters}|{sorted(options.items())}"
        if key not in self._unique_cursors:
            self._unique_cursors[key] = _Cursor(self._names, self._rows)
        return self._unique_cursors[key]

    def reset_cursors(self) -> None:
        for cursor in (self._unique_cursors or {}).values():
            cursor.close()
        self._unique_cursors = {}

    def close(self) -> None:
        self.reset_cursors()
        self._closed = True

    def fetch_one(self, operation: str, parameters: Any = None, **options: Any) -> Any:
        raise NotImplementedError

    def fetch_all(self, operation: str, parameters: Any = None, **options: Any) -> Any:
        raise NotImplementedError

    def execute(self, operation: str, parameters: Any = None, **options: Any) -> None:
        raise NotImplementedError

    def execute_many(self, operation: str, seq_of_parameters: Any, **options: Any) -> None:
        raise NotImplementedError


class SnowflakeConnector(_Connector):
    """Named as the real one: the reader passes Snowflake a query timeout."""

    _block_type_slug = "snowflake-connector-stand-in"

    def fetch_many(
        self, operation: str, parameters: Any = None, size: int | None = None, **options: Any
    ) -> list[Any]:
        return self._cursor(operation, parameters, options).fetchmany(size or self.fetch_size)


class _BigQueryRow(tuple):  # type: ignore[type-arg]
    """google.cloud.bigquery's Row: a tuple that also answers keys() and values()."""

    _names: tuple[str, ...] = ()

    def keys(self) -> tuple[str, ...]:
        return self._names

    def values(self) -> tuple[Any, ...]:
        return tuple(self)


class BigQueryWarehouse(_Connector):
    _block_type_slug = "bigquery-warehouse-stand-in"
    _awaited: int = 0

    async def afetch_many(
        self, operation: str, parameters: Any = None, size: int | None = None, **options: Any
    ) -> list[Any]:
        await asyncio.sleep(0)
        self._awaited += 1
        return self._cursor(operation, parameters, options).fetchmany(size or self.fetch_size)

    @async_dispatch(afetch_many)
    def fetch_many(
        self, operation: str, parameters: Any = None, size: int | None = None, **options: Any
    ) -> list[Any]:
        return self._cursor(operation, parameters, options).fetchmany(size or self.fetch_size)


def read(
    block: Any,
    tmp_path: Path,
    query: str = "select ...",
    *,
    name: str = "stand-in/test",
    parameters: dict[str, Any] | None = None,
) -> RowSpool:
    async def go() -> RowSpool:
        spool = RowSpool(tmp_path)
        reader = BlockReader(block, name, query, parameters, 30.0, spool)
        try:
            await reader.read()
        finally:
            await reader.release()
        return spool

    return asyncio.run(go())


def test_snowflake_tuples_are_named_by_the_description_and_upper_case_names_match(
    tmp_path: Path,
) -> None:
    block = SnowflakeConnector()
    block._names = ["PHONE_NUMBER", "CONTEXT_FIRST_NAME"]
    block._rows = [(p, f"N{i}") for i, p in enumerate(phones(ROWS))]

    spool = read(block, tmp_path)

    batch = parse_rows(numbered_rows(written(spool)))
    assert batch.total_rows == ROWS and len(batch.contacts) == ROWS
    assert batch.contacts[-1].context == {"first_name": f"N{ROWS - 1}"}
    assert block._calls and {c.get("timeout") for c in block._calls} == {30}
    assert block._closed and block._unique_cursors == {}


@pytest.mark.usefixtures("prefect_server")
def test_bigquery_fetch_many_gives_a_coroutine_in_an_async_flow_and_is_awaited(
    tmp_path: Path,
) -> None:
    from prefect import flow

    names = ("phone_number", "context_first_name")

    def row(values: tuple[Any, ...]) -> _BigQueryRow:
        made = _BigQueryRow(values)
        made._names = names
        return made

    block = BigQueryWarehouse()
    block._names = list(names)
    block._rows = [row((p, "Ada")) for p in phones(ROWS)]

    @flow
    async def in_a_flow() -> RowSpool:
        spool = RowSpool(tmp_path)
        reader = BlockReader(block, "stand-in/bq", "select ...", None, 30.0, spool)
        try:
            await reader.read()
        finally:
            await reader.release()
        return spool

    spool = asyncio.run(in_a_flow())
    assert spool.rows == ROWS
    assert block._awaited == 4  # three pages and the empty one: every call was a coroutine
    assert parse_rows(numbered_rows(written(spool))).contacts[0].context == {"first_name": "Ada"}
    assert block._closed


def test_dict_rows_are_read_by_name(tmp_path: Path) -> None:
    block = SnowflakeConnector()
    block._names = ["phone_number", "name"]
    block._rows = [{"phone_number": p, "name": "Ada"} for p in phones(3)]
    spool = read(block, tmp_path)
    assert [c.name for c in parse_rows(numbered_rows(written(spool))).contacts] == ["Ada"] * 3


def test_tuple_rows_without_names_fail_with_a_clear_message(tmp_path: Path) -> None:
    block = SnowflakeConnector()
    block._names = []  # the cursor describes no columns
    block._rows = [(p,) for p in phones(2)]
    with pytest.raises(ContactSourceError, match="rows without column names"):
        read(block, tmp_path)
    assert block._closed


# -- prefect-sqlalchemy, for real --------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, phone_number TEXT, n INTEGER)")
        db.executemany(
            "INSERT INTO contacts (phone_number, n) VALUES (?, ?)",
            [(p, i) for i, p in enumerate(phones(ROWS))],
        )
    return path


def sqlalchemy_block(path: Path) -> Any:
    from prefect_sqlalchemy import SqlAlchemyConnector

    return SqlAlchemyConnector(connection_info=f"sqlite+pysqlite:///{path}")


def test_sqlalchemy_with_its_page_size_of_one_is_read_whole_and_released(
    sqlite_file: Path, tmp_path: Path
) -> None:
    block = sqlalchemy_block(sqlite_file)
    assert block.fetch_size == 1

    spool = read(block, tmp_path, "SELECT phone_number FROM contacts ORDER BY id")

    assert spool.rows == ROWS
    assert list(spool_phone_numbers(written(spool))) == phones(ROWS)
    assert block._unique_results == {} and block._engine is None  # reset and closed


def test_sqlalchemy_re_running_the_query_on_its_second_call_is_caught(
    sqlite_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """prefect-sqlalchemy hashes the statement to find its cursor; the first execution in a
    process changes that hash (SQLAlchemy memoises a cache key on the bind type), so its second
    call runs the query again. Recreated here by forgetting the memo: without the warm-up, the
    reader notices the second cursor and starts over; with it, there is one cursor."""
    from sqlalchemy.sql import sqltypes

    query = "SELECT phone_number FROM contacts WHERE n >= :n ORDER BY id"

    def read_fresh(warm_up: bool) -> RowSpool:
        if "_static_cache_key" in vars(sqltypes.NULLTYPE):
            monkeypatch.delattr(sqltypes.NULLTYPE, "_static_cache_key")
        if not warm_up:
            monkeypatch.setattr(BlockReader, "_warm_up", lambda self: None)
        block = sqlalchemy_block(sqlite_file)
        return read(block, tmp_path, query, name="sqlalchemy-connector/t", parameters={"n": 0})

    with caplog.at_level(logging.WARNING, logger="casey_flows.campaign.query"):
        warmed = read_fresh(warm_up=True)
    assert "ran the query again" not in caplog.text
    assert list(spool_phone_numbers(written(warmed))) == phones(ROWS)

    with caplog.at_level(logging.WARNING, logger="casey_flows.campaign.query"):
        caught = read_fresh(warm_up=False)
    assert "ran the query again" in caplog.text
    assert list(spool_phone_numbers(written(caught))) == phones(ROWS)  # each row once, in order


def test_the_async_sqlalchemy_connector_is_awaited_and_read_whole(
    sqlite_file: Path, tmp_path: Path
) -> None:
    from prefect_sqlalchemy import AsyncSqlAlchemyConnector

    block = AsyncSqlAlchemyConnector(connection_info=f"sqlite+aiosqlite:///{sqlite_file}")

    spool = read(block, tmp_path, "SELECT phone_number FROM contacts ORDER BY id")

    assert list(spool_phone_numbers(written(spool))) == phones(ROWS)
    assert block._unique_results == {} and block._engine is None
