"""The bad-input corpus (``tests/data/bad_input/``): every bad row gets a clear, row-level
error with row, field and a masked value; every good row still goes through.

The decision on formatting (casey_flows/campaign/contacts.py, docs/campaigns.md#phone-numbers):
after a leading ``+`` spaces, dashes, dots and parentheses are removed; a number without ``+`` is
rejected, never guessed. File-level problems (no ``phone_number`` column, not UTF-8) raise
ContactFileError.
"""

from __future__ import annotations

import asyncio
import csv
import re
from pathlib import Path

import pytest

from casey_flows.campaign.contacts import ContactFileError, load_contacts_file
from casey_flows.campaign.models import CampaignResult
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.reliability.conftest import ALWAYS_OPEN, run_campaign

pytestmark = pytest.mark.reliability

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad_input"
MIXED = CORPUS / "mixed.csv"

# (row, field) of every rejection in mixed.csv; row 16 has two bad fields.
MIXED_REJECTIONS = {
    (4, "phone_number"),  # letters
    (5, "phone_number"),  # no +
    (6, "phone_number"),  # + then 0
    (7, "phone_number"),  # leading 0, no +
    (8, "phone_number"),  # 16 digits
    (9, "name"),  # 207 characters
    (10, "participant_id"),  # not a uuid
    (11, "timezone"),  # Mars/Olympus_Mons
    (14, "phone_number"),  # empty
    (16, "phone_number"),
    (16, "participant_id"),
}
MIXED_VALID = {"+13035550101", "+13035550102", "+13035550112", "+442079460113"}
# Raw values of mixed.csv that must never be shown whole.
MIXED_SECRETS = [
    "+1303555010A",
    "13035550104",
    "+03035550105",
    "03035550106",
    "1234567890123456",
    "+1303555011Z",
    "123e4567-e89b-12d3-a456-42661417400Q",
    "Q" * 60,
]


def assert_masked(text: str) -> None:
    for raw in MIXED_SECRETS:
        assert raw not in text, f"{raw!r} shown whole in {text!r}"


def test_mixed_file_rejects_each_bad_field_by_row_and_keeps_the_good_rows() -> None:
    batch = load_contacts_file(MIXED)
    assert {(r.row, r.field) for r in batch.rejected} == MIXED_REJECTIONS
    assert {c.phone_number for c in batch.contacts} == MIXED_VALID
    assert batch.duplicates == 1 and batch.total_rows == 15
    for rejection in batch.rejected:
        assert rejection.message.startswith(f"row {rejection.row}: {rejection.field}")
        assert_masked(rejection.message + rejection.value)
    reasons = {(r.row, r.field): r.message for r in batch.rejected}
    assert "never guessed" in reasons[(5, "phone_number")]
    assert "15" in reasons[(8, "phone_number")]
    assert "200" in reasons[(9, "name")]
    assert "UUID" in reasons[(10, "participant_id")]
    assert "time zone" in reasons[(11, "timezone")]
    assert "required" in reasons[(14, "phone_number")]


def test_mixed_file_through_call_campaign_dials_only_the_valid_rows(
    clean_sandbox: EmbeddedSandbox, credentials_block: str
) -> None:
    state = run_campaign(
        clean_sandbox, credentials_block, contacts_file=str(MIXED), campaign_id="bad-input"
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    stats = clean_sandbox.admin.stats()
    assert set(stats["calls_by_phone"]) == MIXED_VALID
    assert set(stats["calls_by_phone"].values()) == {1}
    rejected = result.by_outcome("rejected")
    assert sorted(o.row for o in rejected) == sorted({row for row, _ in MIXED_REJECTIONS})
    for outcome in rejected:
        assert f"row {outcome.row}:" in (outcome.reason or "")
        assert_masked((outcome.reason or "") + outcome.phone_number)
    row16 = next(o for o in rejected if o.row == 16)
    assert "phone_number" in (row16.reason or "") and "participant_id" in (row16.reason or "")
    dialled = [o for o in result.outcomes if o.call_ids]
    assert {o.phone_number for o in dialled} == MIXED_VALID
    assert "10 rejected" in (state.message or ""), state.message


def test_empty_and_header_only_files_give_a_warning_and_no_contacts() -> None:
    empty = load_contacts_file(CORPUS / "empty.csv")
    header = load_contacts_file(CORPUS / "header_only.csv")
    assert (empty.contacts, empty.rejected) == ([], [])
    assert (header.contacts, header.rejected) == ([], [])
    assert any("is empty" in w for w in empty.warnings)
    assert any("no data rows" in w for w in header.warnings)


def test_missing_phone_number_column_names_the_columns_found() -> None:
    with pytest.raises(ContactFileError, match=r"no phone_number column.*'phone', 'name'"):
        load_contacts_file(CORPUS / "missing_phone_column.csv")


def test_latin1_file_is_refused_with_line_and_byte_offset() -> None:
    with pytest.raises(ContactFileError) as raised:
        load_contacts_file(CORPUS / "latin1.csv")
    message = str(raised.value)
    assert "not valid UTF-8 at line 3" in message and "0xe9" in message
    assert "+13035550302" not in message


def test_file_level_errors_fail_call_campaign_with_the_reason(prefect_server: None) -> None:
    from casey_flows.flows.campaign import call_campaign

    for name, expected in [
        ("missing_phone_column.csv", "no phone_number column"),
        ("latin1.csv", "not valid UTF-8 at line 3"),
    ]:
        state = asyncio.run(
            call_campaign(
                connection_code="demo-outbound",
                contacts_file=str(CORPUS / name),
                calling_window=ALWAYS_OPEN,
                dry_run=True,
                return_state=True,
            )
        )
        assert state.is_failed(), (name, state.message)
        assert expected in (state.message or ""), state.message


def test_bom_is_read_as_utf8() -> None:
    batch = load_contacts_file(CORPUS / "bom.csv")
    assert [c.phone_number for c in batch.contacts] == ["+13035550401", "+13035550402"]
    assert [c.name for c in batch.contacts] == ["Zoë", "Åsa"]
    assert batch.rejected == [] and batch.warnings == []


def test_bogus_time_zones_reject_their_rows_only() -> None:
    batch = load_contacts_file(CORPUS / "bogus_timezone.csv")
    assert [c.phone_number for c in batch.contacts] == ["+13035550501"]
    assert [(r.row, r.field) for r in batch.rejected] == [(3, "timezone"), (4, "timezone")]
    assert "America/Atlantis" in batch.rejected[0].message


def test_hundred_thousand_rows_stream_with_row_level_errors(tmp_path: Path) -> None:
    """Generated, not committed. Every 1,000th row is bad; each is reported by its row."""
    path = tmp_path / "big.csv"
    bad_rows: set[int] = set()
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone_number,name,timezone\n")
        for i in range(100_000):
            row = i + 2  # the header is row 1
            if i % 1000 == 999:
                bad_rows.add(row)
                handle.write(f"4{i:010d},Bad {i},America/New_York\n")
            else:
                handle.write(f"+1 720 {200 + i // 10_000:03d} {i % 10_000:04d},Person {i},\n")
    batch = load_contacts_file(path, default_timezone="America/Denver")
    assert batch.total_rows == 100_000
    assert len(batch.contacts) == 100_000 - len(bad_rows) == 99_900
    assert {r.row for r in batch.rejected} == bad_rows
    assert all(r.field == "phone_number" and "never guessed" in r.message for r in batch.rejected)
    assert all(re.fullmatch(r"•+\d{2,4}", r.value) for r in batch.rejected)
    assert batch.contacts[0].phone_number == "+17202000000"
    assert batch.contacts[0].timezone == "America/Denver"


# --- national formats and numbers no plan assigns (issue #25) --------------------------------

NATIONAL = CORPUS / "national_and_invalid.csv"


def test_without_a_default_region_only_rows_with_a_region_may_be_national() -> None:
    batch = load_contacts_file(NATIONAL)
    assert [c.phone_number for c in batch.contacts] == [
        "+13035550301",
        "+493012345603",  # its own region column
        "+442079460306",
    ]
    reasons = {(r.row, r.field): r.message for r in batch.rejected}
    assert set(reasons) == {
        (3, "phone_number"),
        (5, "phone_number"),
        (6, "phone_number"),
        (8, "phone_number"),
        (9, "phone_number"),
        (10, "phone_number"),
        (10, "region"),
    }
    assert "never guessed" in reasons[(3, "phone_number")]
    assert "is not a valid number" in reasons[(5, "phone_number")]
    assert "is not a valid number" in reasons[(6, "phone_number")]
    assert "never guessed" in reasons[(8, "phone_number")]
    assert "never guessed" in reasons[(9, "phone_number")]
    assert "region 'NARNIA'" in reasons[(10, "region")]
    for rejection in batch.rejected:
        assert not re.search(r"\d{3}\D?\d{4}\b", rejection.value + rejection.message)


def test_with_a_default_region_national_rows_are_read_and_invalid_ones_still_rejected() -> None:
    batch = load_contacts_file(NATIONAL, default_region="US")
    assert [(c.phone_number, c.line_type) for c in batch.contacts] == [
        ("+13035550301", "fixed_line_or_mobile"),
        ("+13035550302", "fixed_line_or_mobile"),
        ("+493012345603", "fixed_line"),  # its own region, DE, wins over the default
        ("+442079460306", "fixed_line"),  # its own +44 wins over its region
    ]
    assert sorted({r.row for r in batch.rejected}) == [5, 6, 8, 9, 10]
    reasons = {r.row: r.message for r in batch.rejected if r.field == "phone_number"}
    assert "is not a valid number" in reasons[5] and "is not a valid number" in reasons[6]
    assert "characters other than digits" in reasons[8]  # the extension, never dropped
    assert "characters other than digits" in reasons[9]  # the vanity letters


def test_default_region_dials_national_numbers_in_e164_and_rejects_invalid_ones_first(
    clean_sandbox: EmbeddedSandbox, credentials_block: str, tmp_path: Path
) -> None:
    """Issue #25's "done when": (202) 555-0100 is dialled as +12025550100, +1 000 000 0000 is
    rejected with a reason before any create, and every outcome says its line type."""
    csv_path = tmp_path / "outcomes.csv"
    state = run_campaign(
        clean_sandbox,
        credentials_block,
        contacts=[
            {"phone_number": "+1 000 000 0000", "name": "Nobody's"},
            {"phone_number": "(202) 555-0100", "name": "National"},
            {"phone_number": "030 1234 0100", "region": "DE", "name": "Berlin"},
        ],
        default_region="US",
        campaign_id="national",
        exports={"csv_path": str(csv_path), "full_numbers": True},
    )
    assert state.is_completed(), state.message
    result: CampaignResult = state.result()
    stats = clean_sandbox.admin.stats()
    assert stats["calls_by_phone"] == {"+12025550100": 1, "+493012340100": 1}
    assert stats["creates_total"] == 2
    (rejected,) = result.by_outcome("rejected")
    assert rejected.row == 1 and rejected.phone_number == "+1•••••0000"
    assert "is not a valid number" in (rejected.reason or "")
    assert rejected.line_type == "unknown"
    types = {o.phone_number: o.line_type for o in result.outcomes if o.call_ids}
    assert types == {"+12025550100": "fixed_line_or_mobile", "+493012340100": "fixed_line"}
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert {r["phone_number"]: r["line_type"] for r in rows} == {
        "+1•••••0000": "unknown",
        "+12025550100": "fixed_line_or_mobile",
        "+493012340100": "fixed_line",
    }


def test_an_unknown_default_region_fails_the_run_naming_the_field_and_value(
    prefect_server: None,
) -> None:
    from casey_flows.flows.campaign import call_campaign

    state = asyncio.run(
        call_campaign(
            connection_code="demo-outbound",
            contacts=[{"phone_number": "+12025550100"}],
            default_region="Atlantis",
            dry_run=True,
            return_state=True,
        )
    )
    assert state.is_failed()
    assert "default_region 'ATLANTIS' is not an ISO 3166-1 alpha-2" in (state.message or "")
