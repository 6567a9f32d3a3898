"""Contacts and suppression files from a URL (fsspec), read like local paths."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from casey_flows.campaign.contacts import ContactFileError, load_contacts_file
from casey_flows.campaign.sources import FileSource, is_url
from casey_flows.campaign.suppression import SuppressionList

CSV = "phone_number,name\n+12025550100,Ada\n+12025550101,Grace\nnot-a-number,Bad\n"


def test_a_file_url_reads_like_its_path(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(CSV, encoding="utf-8")
    by_path = load_contacts_file(path)
    by_url = load_contacts_file(path.as_uri())
    assert [c.phone_number for c in by_url.contacts] == ["+12025550100", "+12025550101"]
    assert by_url.contacts == by_path.contacts
    assert [r.row for r in by_url.rejected] == [r.row for r in by_path.rejected] == [4]


def test_any_fsspec_filesystem_works_and_messages_name_the_file() -> None:
    with fsspec.open("memory://lists/remote.jsonl", "w") as handle:
        handle.write('{"phone_number": "+12025550102"}\n')
    assert [c.phone_number for c in load_contacts_file("memory://lists/remote.jsonl").contacts] == [
        "+12025550102"
    ]
    with fsspec.open("memory://lists/remote.txt", "w") as handle:
        handle.write("x")
    with pytest.raises(ContactFileError, match=r"^remote\.txt: unsupported file type"):
        load_contacts_file("memory://lists/remote.txt")


def test_suppression_from_a_url() -> None:
    with fsspec.open("memory://lists/dnc.txt", "w") as handle:
        handle.write("+12025550100\n# a comment\n+1 (202) 555-0101\n")
    suppressed = SuppressionList.from_file("memory://lists/dnc.txt")
    assert "+12025550100" in suppressed and "+12025550101" in suppressed


def test_what_counts_as_a_url() -> None:
    assert is_url("s3://bucket/a.csv") and is_url("file:///tmp/a.csv")
    assert not is_url("/tmp/a.csv") and not is_url("C://odd/windows.csv")
    assert FileSource("gs://b/dir/list.CSV").suffix == ".CSV"
