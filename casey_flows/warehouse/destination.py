"""Where a sync loads to: the destination by name, its credentials, and one writer at a time.

Decided before a single call is read, so a wrong name, a missing block or a database that does
not answer fails the run in seconds with a message that says what to fix, and nothing is
half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import UnknownDestinationModule

from casey_flows.exceptions import WarehouseConfigError

WAREHOUSE_DIR_ENV = "CASEY_FLOWS_WAREHOUSE_DIR"
DEFAULT_WAREHOUSE_DIR = Path("~/.casey-flows/warehouse")
# Not named after the default dataset: DuckDB names its catalog after the file, and a catalog
# and a schema both called "casey" make every table reference ambiguous.
DUCKDB_FILE_NAME = "warehouse.duckdb"


def warehouse_dir() -> Path:
    """The one absolute place for the embedded DuckDB file and dlt's pipeline state.

    Absolute on purpose: dlt's own default lands in the working directory, and process workers
    run each flow in a fresh temporary one. ``CASEY_FLOWS_WAREHOUSE_DIR`` moves it.
    """
    configured = os.environ.get(WAREHOUSE_DIR_ENV) or str(DEFAULT_WAREHOUSE_DIR)
    return Path(configured).expanduser().resolve()


def default_duckdb_path() -> Path:
    """The embedded DuckDB file used when no other destination or credentials are given."""
    return warehouse_dir() / DUCKDB_FILE_NAME


def pipelines_dir() -> Path:
    """dlt's working directory for the sync pipelines (state, load packages in flight)."""
    return warehouse_dir() / "pipelines"


def resolve_destination(name: str, credentials: Any | None = None) -> Destination[Any, Any]:
    """A dlt destination by name (``duckdb``, ``postgres``, ``snowflake``, ...).

    DuckDB with no credentials gets the embedded file at :func:`default_duckdb_path`. With no
    credentials for another destination, dlt's own config (``.dlt/secrets.toml``, environment
    variables) supplies them.
    """
    if name == "duckdb" and credentials is None:
        path = default_duckdb_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        credentials = str(path)
    try:
        destination = Destination.from_reference(name, credentials=credentials)
    except UnknownDestinationModule:
        raise WarehouseConfigError(
            f"destination {name!r} is not a dlt destination: use a dlt destination name such as "
            "'duckdb' (embedded, the default), 'postgres', 'snowflake', 'bigquery' or "
            "'filesystem', with its extra installed (pip install 'dlt[postgres]')"
        ) from None
    except ImportError as exc:
        raise WarehouseConfigError(
            f"destination {name!r} needs a package that is not installed ({exc.name}): "
            f"pip install 'dlt[{name}]'"
        ) from None
    assert destination is not None  # dlt answers None only to a None reference, never to a name
    return destination


async def load_destination_credentials(block_name: str | None) -> Any | None:
    """The destination's credentials from a Prefect ``Secret`` block, or None for dlt config.

    The secret holds what dlt takes as credentials: a connection string
    (``postgresql://user:password@host:5432/db``) or a JSON object of its fields.
    """
    if not block_name:
        return None
    from prefect.blocks.system import Secret

    try:
        secret: Secret[Any] = await Secret.aload(block_name)
    except ValueError:
        raise WarehouseConfigError(
            f"no Prefect Secret block named {block_name!r} for the destination credentials: "
            f"create it in the UI (Blocks > Secret) or with "
            f"Secret(value='postgresql://user:password@host:5432/db').save({block_name!r})"
        ) from None
    value = secret.get()
    if isinstance(value, str) and value.lstrip().startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
    return value


def check_reachable(pipeline: dlt.Pipeline) -> None:
    """Open the destination once before extracting, so a dead database fails in seconds.

    Destinations without SQL (files, buckets) are checked by the load itself.
    """
    name = pipeline.destination.destination_name if pipeline.destination else "?"
    try:
        client = pipeline.sql_client()
    except Exception:  # no SQL client for this destination type: nothing to open
        return
    try:
        with client:
            client.execute_sql("SELECT 1")
    except Exception as exc:
        raise WarehouseConfigError(
            f"cannot reach the {name} destination: {_first_line(exc)}. Check that the database "
            "is running and that its credentials (the destination credentials block, or dlt "
            "config) are right"
            + (
                "; a DuckDB file takes one writer at a time: close other programs that hold it"
                if name == "duckdb"
                else ""
            )
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


@contextlib.contextmanager
def one_writer(pipeline_name: str) -> Iterator[None]:
    """Hold the pipeline's lock file: two syncs on one machine run one after the other.

    Two loads of one dlt pipeline at once race on its load packages (and DuckDB takes one
    writer). Across machines, the deployment's concurrency limit of 1 does the same job.
    """
    directory = pipelines_dir()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: the deployment's concurrency limit is the only guard
        yield
        return
    with open(directory / f"{pipeline_name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
