"""Staging contacts by reference: written in parts wherever asked (a URL, Prefect's default
storage: a block, the server's default, local disk), read back as written or not at all."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.filesystems import LocalFileSystem
from prefect.settings import (
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK,
    temporary_settings,
)

from casey_flows import (
    ContactFileError,
    ContactInput,
    StagedContacts,
    StagedContactsError,
    astage_contacts,
    stage_contacts,
)
from casey_flows.campaign import staging
from casey_flows.campaign.staging import MANIFEST_NAME, load_staged_contacts, read_staged_rows


def phones(count: int, start: int = 2_000_000) -> list[str]:
    """Valid US numbers (+1 202, an exchange not starting with 0 or 1), as many as asked."""
    return [f"+1202{n:07d}" for n in range(start, start + count)]


def rows(count: int) -> Iterator[dict[str, object]]:
    return ({"phone_number": p, "name": f"Person {i}"} for i, p in enumerate(phones(count)))


def folder_of(staged: StagedContacts) -> Path:
    return Path(staged.location.removeprefix("file://"))


def test_parts_manifest_and_row_numbers_across_parts(tmp_path: Path) -> None:
    staged = stage_contacts(rows(25), url=(tmp_path / "stage").as_uri(), rows_per_part=10)
    folder = folder_of(staged)
    assert folder.parent == tmp_path / "stage" / "casey-staged-contacts"
    UUID(folder.name)  # no personal data in any path
    assert sorted(p.name for p in folder.iterdir()) == [
        MANIFEST_NAME,
        "part-00000.jsonl",
        "part-00001.jsonl",
        "part-00002.jsonl",
    ]
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["rows"] == staged.rows == 25
    assert [p["rows"] for p in manifest["parts"]] == [10, 10, 5]
    assert manifest["sha256"] == staged.sha256 and manifest["created_at"]
    assert staged.host is None and staged.block is None  # a URL: readable wherever it resolves
    read = list(read_staged_rows(staged))
    assert [n for n, _ in read] == list(range(1, 26))
    assert read[11][1] == {"phone_number": phones(25)[11], "name": "Person 11"}


def test_inputs_of_every_kind_lazily_and_async(tmp_path: Path) -> None:
    consumed: list[int] = []

    def lazy() -> Iterator[object]:
        for i, phone in enumerate(phones(3)):
            consumed.append(i)
            yield {"Phone_Number": phone, "context.visit": float("nan"), "timezone": None}

    staged = stage_contacts(lazy(), url=str(tmp_path))
    assert consumed == [0, 1, 2] and staged.location.startswith(str(tmp_path))
    batch = load_staged_contacts(staged, default_timezone="America/New_York")
    assert [c.phone_number for c in batch.contacts] == phones(3)
    assert batch.contacts[0].timezone == "America/New_York" and batch.contacts[0].context == {}

    async def stream() -> AsyncIterator[ContactInput]:
        for phone in phones(2):
            yield ContactInput(phone_number=phone, context={"when": "Tue 09:30"})

    from_async = asyncio.run(astage_contacts(stream(), url=str(tmp_path)))
    mixed = asyncio.run(
        astage_contacts([ContactInput(phone_number=phones(1)[0]), "not a row"], url=str(tmp_path))
    )
    assert load_staged_contacts(from_async).contacts[1].context == {"when": "Tue 09:30"}
    rejected = load_staged_contacts(mixed).rejected
    assert [r.row for r in rejected] == [2]
    with pytest.raises(TypeError, match="not rows"):
        stage_contacts({"phone_number": phones(1)[0]}, url=str(tmp_path))


def test_lists_never_import_pandas_or_polars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("pandas", "polars"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    staged = stage_contacts([{"phone_number": phones(1)[0]}], url=str(tmp_path))
    assert staged.rows == 1


def test_dataframes(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "phone_number": phones(3),
            "name": ["Ada", None, "Grace"],
            "context.visits": [1, float("nan"), 3],  # a float column: NaN where missing
            "context.at": pandas.to_datetime(["2030-05-14 09:30", None, "2030-05-14 10:00"]),
        }
    )
    batch = load_staged_contacts(stage_contacts(frame, url=str(tmp_path)))
    assert [c.name for c in batch.contacts] == ["Ada", None, "Grace"]
    assert batch.contacts[0].context == {"visits": 1.0, "at": "2030-05-14T09:30:00"}
    assert batch.contacts[1].context == {}


def test_polars_dataframes(tmp_path: Path) -> None:
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame({"phone_number": phones(3), "name": ["Ada", None, "Grace"]})
    batch = load_staged_contacts(stage_contacts(frame, url=str(tmp_path)))
    assert [c.name for c in batch.contacts] == ["Ada", None, "Grace"]


def test_the_reference_is_small(tmp_path: Path) -> None:
    staged = stage_contacts(rows(1000), url=str(tmp_path / ("deep" * 10)))
    assert len(staged.model_dump_json()) < 400
    assert StagedContacts.model_validate_json(staged.model_dump_json()) == staged


def test_a_changed_part_or_manifest_fails_naming_the_reference_not_the_rows(
    tmp_path: Path,
) -> None:
    numbers = phones(30)
    staged = stage_contacts(
        ({"phone_number": p} for p in numbers), url=str(tmp_path), rows_per_part=10
    )
    part = folder_of(staged) / "part-00001.jsonl"
    original = part.read_bytes()
    part.write_bytes(original.replace(numbers[12].encode(), b"+12029999999"))
    read: list[int] = []
    with pytest.raises(StagedContactsError) as failure:
        for n, _ in read_staged_rows(staged):
            read.append(n)
    message = str(failure.value)
    assert staged.location in message and "part-00001.jsonl changed" in message
    assert not any(p in message for p in [*numbers, "+12029999999"])
    assert read == list(range(1, 11)), "no row of a changed part is returned"
    assert isinstance(failure.value, ContactFileError)  # a file-level error, as for files

    part.write_bytes(original)
    manifest = folder_of(staged) / MANIFEST_NAME
    changed = json.loads(manifest.read_text())
    changed["parts"][2]["rows"] = 9
    manifest.write_text(json.dumps(changed))
    with pytest.raises(StagedContactsError, match="does not match the reference"):
        list(read_staged_rows(staged))
    part.unlink()
    with pytest.raises(StagedContactsError, match="does not match the reference"):
        list(read_staged_rows(staged))
    manifest.unlink()
    with pytest.raises(StagedContactsError, match=r"cannot read manifest\.json"):
        list(read_staged_rows(staged))


@pytest.mark.usefixtures("prefect_server")
def test_default_local_storage_is_this_hosts_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def sync_in_async_code() -> StagedContacts:
        return stage_contacts(rows(1))

    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        staged = stage_contacts(rows(3))
        from_async = asyncio.run(astage_contacts(rows(2)))
        assert asyncio.run(sync_in_async_code()).host == staged.host
    assert folder_of(staged).parent == tmp_path / "storage" / "casey-staged-contacts"
    assert staged.host == from_async.host == staging.socket.gethostname()
    assert len(list(read_staged_rows(from_async))) == 2
    monkeypatch.setattr(staging.socket, "gethostname", lambda: "worker-2")
    with pytest.raises(StagedContactsError) as failure:
        list(read_staged_rows(staged))
    message = str(failure.value)
    assert "worker-2" in message and staged.host in message  # type: ignore[operator]
    assert "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK" in message and "url=" in message


@pytest.mark.usefixtures("prefect_server")
def test_a_default_storage_block_is_written_through(tmp_path: Path) -> None:
    LocalFileSystem(basepath=str(tmp_path / "results")).save("casey-staging-test", overwrite=True)
    setting = {PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: "local-file-system/casey-staging-test"}

    async def sync_calls_in_async_code() -> tuple[StagedContacts, int]:
        """An async flow calling the sync functions: Prefect's storage calls would dispatch
        to coroutines there unless asked for the sync path."""
        staged = stage_contacts(rows(5))
        return staged, len(list(read_staged_rows(staged)))

    with temporary_settings(updates=setting):
        staged = stage_contacts(rows(3))
        from_async = asyncio.run(astage_contacts(rows(4)))
        in_async, read_in_async = asyncio.run(sync_calls_in_async_code())
    assert staged.block == "local-file-system/casey-staging-test" and staged.host is None
    assert staged.location.startswith("casey-staged-contacts/")
    assert (tmp_path / "results" / staged.location / MANIFEST_NAME).exists()
    assert len(list(read_staged_rows(staged))) == 3
    assert len(list(read_staged_rows(from_async))) == 4
    assert in_async.block == staged.block and read_in_async == 5


@pytest.mark.usefixtures("prefect_server")
def test_the_servers_default_storage_when_no_setting_names_one(tmp_path: Path) -> None:
    block_id = LocalFileSystem(basepath=str(tmp_path / "server-default")).save(
        "casey-server-default", overwrite=True
    )

    async def with_server_default() -> StagedContacts:
        async with get_client() as client:
            await client.update_server_default_result_storage(block_id)
            try:
                return await astage_contacts(rows(2))
            finally:
                await client.clear_server_default_result_storage()

    staged = asyncio.run(with_server_default())
    assert staged.block == "local-file-system/casey-server-default"
    assert [n for n, _ in read_staged_rows(staged)] == [1, 2]
