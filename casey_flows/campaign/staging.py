"""Contacts staged by reference: an upstream flow writes its rows once, a campaign reads them.

A flow parameter is the wrong carrier for a list of people (Prefect stores it, shows it, caps it
at 512 KB and on a 422 echoes it), so a flow that already holds rows writes them to storage with
:func:`stage_contacts` and passes the small :class:`StagedContacts` it gets back as
``call_campaign(staged_contacts=...)`` (or to ``run_deployment``). The campaign streams them
back through the usual validation (:func:`casey_flows.campaign.contacts.parse_rows`).

Layout, with no personal data in any path::

    <storage>/casey-staged-contacts/<uuid>/part-00000.jsonl   one JSON object a line, 50,000 a part
                                          /part-00001.jsonl
                                          /manifest.json      rows, parts, checksums, created_at

Where: ``url=`` (an fsspec URL such as ``s3://bucket/prefix`` or ``file:///srv/shared``, or a local
path), else Prefect's default result storage, as Prefect itself resolves it: the block named by
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK``, else the server's default result storage block, else
the local ``PREFECT_LOCAL_STORAGE_PATH`` (``$PREFECT_HOME/storage``). Local default storage is
readable on the machine that wrote it only: the reference records that host, and reading it
anywhere else fails with a message that says to set a storage block or pass ``url=``.

Integrity: each part's sha256 is in the manifest, and the list's checksum (kept in the
reference, so on the Prefect server, out of the files' reach) is the sha256 of the parts' lines
``"<name> <rows> <sha256>\\n"``. A reader checks the manifest against the reference first and each
part before it yields a row of it: a changed file fails with an error naming the reference, and
no row of a changed part is ever returned.

Retention: nothing deletes staged files. A campaign's status and a crash-resume read them again,
so they must outlive the run that uses them; delete a folder (or set a lifecycle rule on the
bucket's ``casey-staged-contacts/`` prefix) once its campaigns are done with.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from casey_flows.campaign.contacts import ContactBatch, parse_rows
from casey_flows.campaign.sources import is_url
from casey_flows.exceptions import StagedContactsError

STAGED_FOLDER = "casey-staged-contacts"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "casey-staged-contacts/1"
ROWS_PER_PART = 50_000
_PANDAS_CHUNK = 10_000


class StagedContacts(BaseModel):
    """Where a staged contact list is, and what it must read back as: a reference of a few hundred
    bytes to pass as a flow parameter instead of the rows."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", title="Staged contacts (from stage_contacts)"
    )

    location: str = Field(
        description="The staged folder: an fsspec URL or local path, or, with block, a path "
        "inside that block."
    )
    block: str | None = Field(
        default=None,
        description="The saved Prefect file-system block (type/name) the folder is in. Empty: "
        "location is a URL or path.",
    )
    rows: int = Field(ge=0, description="How many rows were staged.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Checksum of the parts (their manifest lines); reading verifies it.",
    )
    host: str | None = Field(
        default=None,
        description="Set when staged on Prefect's local storage: only this machine can read it.",
    )

    @property
    def where(self) -> str:
        """The reference in words, for messages (a path or URL and a block: no personal data)."""
        place = f"{self.location} in block {self.block}" if self.block else self.location
        return f"staged contacts {place}"


# --- writing ---------------------------------------------------------------------------------


def stage_contacts(
    rows: Any, url: str | None = None, *, rows_per_part: int = ROWS_PER_PART
) -> StagedContacts:
    """Write contact rows to storage in parts and return a small reference to pass to
    ``call_campaign(staged_contacts=...)``, ``campaign_status`` or ``run_deployment``.

    Args:
        rows: A list of dicts or ``ContactInput``s, a pandas or polars DataFrame, or any
            iterable of rows (consumed lazily, one part in memory at a time). Keys are read
            like CSV headers: ``phone_number``, ``name``, ``timezone``, ``participant_id``,
            ``region``, ``context.*`` or a ``context`` object. Rows are validated when a
            campaign reads them (national numbers in its ``default_region`` or their region).
        url: Folder to stage under: an fsspec URL every worker can read (``s3://bucket/path``,
            ``gs://...``, ``file:///shared/...``) or a local path. Empty: Prefect's default
            result storage (see the module docstring).
        rows_per_part: Rows per JSONL part.

    Returns:
        The ``StagedContacts`` reference (location, row count, checksum).

    Example:
        ```python
        from casey_flows import call_campaign, stage_contacts

        staged = stage_contacts([{"phone_number": "+12025550100", "name": "Ada"}])
        await call_campaign(connection_code="demo-outbound", staged_contacts=staged)
        ```
    """
    target = _target(url)
    writer = _PartWriter(rows_per_part)
    for row in _iter_rows(rows):
        part = writer.add(row)
        if part is not None:
            target.folder.write(*part)
    for name, data in writer.finish():
        target.folder.write(name, data)
    return writer.reference(target)


async def astage_contacts(
    rows: Any, url: str | None = None, *, rows_per_part: int = ROWS_PER_PART
) -> StagedContacts:
    """:func:`stage_contacts` for async code; ``rows`` may also be an async iterable."""
    target = await _atarget(url)
    writer = _PartWriter(rows_per_part)
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            part = writer.add(row)
            if part is not None:
                await target.folder.awrite(*part)
    else:
        for row in _iter_rows(rows):
            part = writer.add(row)
            if part is not None:
                await target.folder.awrite(*part)
    for name, data in writer.finish():
        await target.folder.awrite(name, data)
    return writer.reference(target)


def _iter_rows(rows: Any) -> Iterable[Any]:
    """Rows one at a time. DataFrames are recognised only when their library is already
    imported (a DataFrame cannot exist otherwise): neither is ever imported here."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(rows, pandas.DataFrame):
        return _pandas_rows(rows)
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(rows, polars.LazyFrame):
        rows = rows.collect()
    # rows is whatever the caller passed (Any): the checks here are what types it.
    if polars is not None and isinstance(rows, polars.DataFrame):
        return cast("Iterable[Any]", rows.iter_rows(named=True))
    if isinstance(rows, (str, bytes, Mapping)):
        raise TypeError(
            f"rows is one {type(rows).__name__}, not rows: pass a list (or iterable) of rows"
        )
    return cast("Iterable[Any]", rows)


def _pandas_rows(frame: Any) -> Iterator[dict[str, Any]]:
    """A DataFrame's rows as dicts, a chunk at a time, missing values (NaN, NaT, NA) as None."""
    for start in range(0, len(frame), _PANDAS_CHUNK):
        chunk = frame.iloc[start : start + _PANDAS_CHUNK].astype(object)
        yield from chunk.where(chunk.notna(), None).to_dict("records")


def _encode(row: Any) -> bytes:
    """One JSONL line: models as their fields, NaN as null, dates ISO, anything else as text."""
    return to_json(row, exclude_none=True, inf_nan_mode="null", fallback=_fallback) + b"\n"


def _fallback(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else str(value)


def _part_name(index: int) -> str:
    return f"part-{index:05d}.jsonl"


def _part_line(name: str, rows: int, sha256: str) -> bytes:
    return f"{name} {rows} {sha256}\n".encode()


@dataclass
class _PartWriter:
    """Encodes rows into parts and keeps the manifest's account of them."""

    rows_per_part: int
    lines: list[bytes] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    checksum: Any = field(default_factory=hashlib.sha256)
    rows: int = 0

    def __post_init__(self) -> None:
        if self.rows_per_part < 1:
            raise ValueError("rows_per_part must be at least 1")

    def add(self, row: Any) -> tuple[str, bytes] | None:
        """The row encoded; a full part, to write, when this row completes one."""
        self.lines.append(_encode(row))
        return self._cut() if len(self.lines) >= self.rows_per_part else None

    def finish(self) -> list[tuple[str, bytes]]:
        """The last part (if any rows are left), then the manifest: the manifest goes last, so a
        folder without one was never finished."""
        last = [self._cut()] if self.lines else []
        return [*last, (MANIFEST_NAME, self._manifest())]

    def reference(self, target: _Target) -> StagedContacts:
        return StagedContacts(
            location=target.location,
            block=target.block,
            rows=self.rows,
            sha256=self.checksum.hexdigest(),
            host=target.host,
        )

    def _cut(self) -> tuple[str, bytes]:
        data = b"".join(self.lines)
        name, rows, digest = _part_name(len(self.parts)), len(self.lines), _sha256(data)
        self.parts.append({"name": name, "rows": rows, "bytes": len(data), "sha256": digest})
        self.checksum.update(_part_line(name, rows, digest))
        self.rows += rows
        self.lines = []
        return name, data

    def _manifest(self) -> bytes:
        manifest = {
            "format": MANIFEST_FORMAT,
            "rows": self.rows,
            "sha256": self.checksum.hexdigest(),
            "checksum": "sha256 of each part's line '<name> <rows> <sha256>\\n', in order",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "parts": self.parts,
        }
        return json.dumps(manifest, indent=1).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- storage ---------------------------------------------------------------------------------


class _FsFolder:
    """A folder behind an fsspec URL or a local path."""

    def __init__(self, location: str) -> None:
        from fsspec.core import url_to_fs

        self.location = location
        self.fs, self.root = url_to_fs(location)
        self._made = False

    def write(self, name: str, data: bytes) -> None:
        if not self._made:
            self.fs.makedirs(self.root, exist_ok=True)
            self._made = True
        self.fs.pipe_file(f"{self.root}/{name}", data)

    def read(self, name: str) -> bytes:
        return cast(bytes, self.fs.cat_file(f"{self.root}/{name}"))  # fsspec is untyped

    async def awrite(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self.write, name, data)

    async def aread(self, name: str) -> bytes:
        return await asyncio.to_thread(self.read, name)


class _BlockFolder:
    """A folder inside a saved Prefect file-system block (``read_path``/``write_path``)."""

    def __init__(self, block: Any, path: str) -> None:
        self.block = block
        self.path = path

    def write(self, name: str, data: bytes) -> None:
        _call_sync(self.block, "write_path", f"{self.path}/{name}", data)

    # The block is any saved file-system block (Any): read_path returns the file's bytes.
    def read(self, name: str) -> bytes:
        return cast(bytes, _call_sync(self.block, "read_path", f"{self.path}/{name}"))

    async def awrite(self, name: str, data: bytes) -> None:
        await _call_async(self.block, "write_path", f"{self.path}/{name}", data)

    async def aread(self, name: str) -> bytes:
        return cast(bytes, await _call_async(self.block, "read_path", f"{self.path}/{name}"))


def _call_sync(block: Any, method: str, *args: Any) -> Any:
    """A storage block's method, synchronously, whichever way the block implements it (as
    Prefect's own result store does)."""
    bound = getattr(block, method)
    if hasattr(bound, "aio"):  # async_dispatch / sync_compatible: ask for the sync path
        return bound(*args, _sync=True)
    result = bound(*args)
    if inspect.isawaitable(result):
        from prefect.utilities.asyncutils import run_coro_as_sync

        # Typed for coroutines; it awaits any awaitable (`return await coroutine`).
        return run_coro_as_sync(cast("Coroutine[Any, Any, Any]", result))
    return result


async def _call_async(block: Any, method: str, *args: Any) -> Any:
    explicit = getattr(block, f"a{method}", None)
    if explicit is not None:
        return await explicit(*args)
    bound = getattr(block, method)
    if hasattr(bound, "aio"):
        return await bound.aio(block, *args)
    result = bound(*args)
    return await result if inspect.isawaitable(result) else result


@dataclass(frozen=True)
class _Target:
    folder: _FsFolder | _BlockFolder
    location: str
    block: str | None = None
    host: str | None = None


def _new_folder() -> str:
    return f"{STAGED_FOLDER}/{uuid.uuid4()}"


def _fs_target(base: str, *, host: str | None = None) -> _Target:
    if not is_url(base):  # another process (a worker) may not share this one's directory
        base = os.path.abspath(os.path.expanduser(base))
    location = f"{base.rstrip('/')}/{_new_folder()}"
    return _Target(folder=_FsFolder(location), location=location, host=host)


def _target(url: str | None) -> _Target:
    if url:
        return _fs_target(url)
    from prefect.results import get_default_result_storage

    # _sync: Prefect would hand async code (an async flow calling this) a coroutine instead.
    # (async_dispatch adds the _sync keyword at run time; the signature does not declare it.)
    return _storage_target(get_default_result_storage(_sync=True))  # type: ignore[call-arg]


async def _atarget(url: str | None) -> _Target:
    if url:
        return _fs_target(url)
    from prefect.results import aget_default_result_storage

    return _storage_target(await aget_default_result_storage())


def _storage_target(storage: Any) -> _Target:
    """Prefect's default result storage: a saved block (written through, referenced by name),
    or the local fallback, an unsaved ``LocalFileSystem`` on ``PREFECT_LOCAL_STORAGE_PATH``."""
    from prefect.filesystems import LocalFileSystem

    if storage._block_document_id is not None:
        name = storage._block_document_name
        slug = f"{storage.get_block_type_slug()}/{name}"
        block = slug if name else str(storage._block_document_id)
        path = _new_folder()
        return _Target(folder=_BlockFolder(storage, path), location=path, block=block)
    if isinstance(storage, LocalFileSystem):
        return _fs_target(storage.basepath or ".", host=socket.gethostname())
    raise StagedContactsError(
        f"Prefect's default result storage is an unsaved {type(storage).__name__} block: save "
        "it (PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK names a saved block), or pass url="
    )


# --- reading ---------------------------------------------------------------------------------


def read_staged_rows(staged: StagedContacts) -> Iterator[tuple[int, Any]]:
    """``(row, value)`` for every staged row, row numbers 1-based across parts, for
    :func:`casey_flows.campaign.contacts.parse_rows`. Parts are read one at a time.

    Raises:
        StagedContactsError: it cannot be read here (another host's local storage, missing), or
            it is not what was staged (a manifest or part changed, a row count differs). Rows of
            a part are yielded only after that part's checksum matched.
    """
    folder = _open_folder(staged)
    parts = _read_manifest(staged, folder)
    row = 0
    for part in parts:
        name, expected = part["name"], part["rows"]
        data = _read(staged, folder, name)
        if _sha256(data) != part["sha256"]:
            raise StagedContactsError(
                f"{staged.where}: {name} changed after it was staged (its sha256 is not the "
                "manifest's); stage the contacts again"
            )
        lines = data.splitlines()
        if len(lines) != expected:  # a checksum match makes this a writer's bug, not a change
            raise StagedContactsError(
                f"{staged.where}: {name} holds {len(lines)} rows, the manifest says {expected}"
            )
        for line in lines:
            row += 1
            yield row, json.loads(line)


def load_staged_contacts(
    staged: StagedContacts,
    *,
    default_timezone: str | None = None,
    default_region: str | None = None,
) -> ContactBatch:
    """The staged rows validated as contacts (rejections carry the staged row number)."""
    rows = read_staged_rows(staged)
    return parse_rows(rows, default_timezone=default_timezone, default_region=default_region)


def _open_folder(staged: StagedContacts) -> _FsFolder | _BlockFolder:
    here = socket.gethostname()
    if staged.host and staged.host != here:
        raise StagedContactsError(
            f"{staged.where} were written to Prefect's local storage on {staged.host} and cannot "
            f"be read on {here}: set a default result storage block "
            "(PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK, or the server's default) or pass url= to "
            "stage_contacts (a location every worker can read), and stage them again"
        )
    if staged.block is None:
        return _FsFolder(staged.location)
    from prefect.results import resolve_result_storage

    try:
        ref: uuid.UUID | str = uuid.UUID(staged.block)
    except ValueError:
        ref = staged.block
    try:
        # async_dispatch adds the _sync keyword at run time; the signature does not declare it.
        block = resolve_result_storage(ref, _sync=True)  # type: ignore[call-arg]
    except Exception as exc:
        raise StagedContactsError(
            f"{staged.where}: the block cannot be loaded here ({type(exc).__name__}: {exc})"
        ) from exc
    return _BlockFolder(block, staged.location)


def _read(staged: StagedContacts, folder: _FsFolder | _BlockFolder, name: str) -> bytes:
    try:
        return folder.read(name)
    except (OSError, ValueError) as exc:  # fsspec: FileNotFoundError; LocalFileSystem: ValueError
        raise StagedContactsError(
            f"{staged.where}: cannot read {name} ({type(exc).__name__}); deleted, or staged "
            "somewhere this worker cannot see?"
        ) from None


def _read_manifest(
    staged: StagedContacts, folder: _FsFolder | _BlockFolder
) -> list[dict[str, Any]]:
    """The manifest's parts, after checking they add up to the reference's rows and checksum."""
    data = _read(staged, folder, MANIFEST_NAME)
    try:
        manifest = json.loads(data)
        parts: list[dict[str, Any]] = manifest["parts"]
        checksum = hashlib.sha256()
        for part in parts:
            checksum.update(_part_line(part["name"], part["rows"], part["sha256"]))
        rows = sum(int(part["rows"]) for part in parts)
    except (ValueError, KeyError, TypeError):
        raise StagedContactsError(f"{staged.where}: {MANIFEST_NAME} is not readable") from None
    if checksum.hexdigest() != staged.sha256 or rows != staged.rows:
        raise StagedContactsError(
            f"{staged.where}: {MANIFEST_NAME} does not match the reference (checksum or row "
            f"count: {rows} rows, the reference says {staged.rows}); it changed after staging, "
            "or the reference points at another list"
        )
    return parts
