"""Contacts: normalisation, validation, file loading, dedupe and masking."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from casey_flows.campaign.contacts import (
    Contact,
    ContactBatch,
    ContactFileError,
    ContactRejection,
    InvalidPhoneNumber,
    load_contacts_file,
    parse_contacts,
)
from casey_flows.campaign.phone_numbers import normalize_phone, parse_phone
from tests.phone_samples import VALID_E164

DATA = Path(__file__).parents[1] / "data"
NUMBER = "+14155550123"
MASKED = "+1•••••0123"
ARABIC_INDIC_4155550123 = "".join(chr(0x0660 + int(d)) for d in "4155550123")
FORMATTING = st.sampled_from([" ", "-", ".", "(", ")", "  ", " - ", "\u00a0"])


# --- normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155550123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("  +49 30.1234-5678 ", "+493012345678"),
        ("+44 (0)20 7183 8750", "+442071838750"),  # libphonenumber drops the national (0)
    ],
)
def test_normalize_phone_removes_formatting_after_plus(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("004930123456", "no leading '+'"),
        ("0301234", "no leading '+'"),
        ("4155550123", "no leading '+'"),
        ("+1415555CALL", "characters other than digits"),
        ("+1/415/555/0123", "characters other than digits"),
        ("+1234567890123456", "16 digits"),
        ("+04155550123", "not E.164"),
        ("+1", "not E.164"),
        ("++14155550123", "characters other than digits"),
        ("+1" + ARABIC_INDIC_4155550123, "characters other than digits"),
        # What libphonenumber's parse alone would accept: vanity letters, extensions.
        ("+1-800-FLOWERS", "characters other than digits"),
        ("+14155550123 x5", "characters other than digits"),
        ("+14155550123;ext=5", "characters other than digits"),
        ("+14155550123 ext. 5", "characters other than digits"),
        # Well formed, but no numbering plan assigns them.
        ("+1 000 000 0000", "not a valid number"),
        ("+1 720 000 1234", "not a valid number"),
        ("+999 1234 5678", "not a phone number: no country has this country code"),
        ("+49 1", "is not a phone number: too short"),
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_normalize_phone_rejects_what_it_would_have_to_guess(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=re.escape(reason)) as info:
        normalize_phone(raw)
    digits = raw.strip()
    if len(digits) >= 10:
        assert digits not in str(info.value)


def test_normalize_phone_rejects_non_text() -> None:
    with pytest.raises(InvalidPhoneNumber, match="must be text"):
        normalize_phone(14155550123)


@given(VALID_E164)
def test_normalize_phone_is_identity_on_e164(number: str) -> None:
    assert normalize_phone(number) == number


@given(VALID_E164, st.data())
def test_formatting_inserted_into_a_number_normalises_back(
    number: str, data: st.DataObject
) -> None:
    chars = list(number[1:])
    positions = data.draw(st.lists(st.integers(0, len(chars)), max_size=6))
    for position in sorted(positions, reverse=True):
        chars.insert(position, data.draw(FORMATTING))
    formatted = "+" + "".join(chars)
    assert normalize_phone(formatted) == number


@given(st.text(max_size=30))
def test_normalize_phone_never_fails_unexpectedly(text: str) -> None:
    try:
        result = normalize_phone(text)
    except InvalidPhoneNumber:
        return
    assert result.startswith("+")
    assert result[1:].isascii() and result[1:].isdigit()


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0100", "US", "+12025550100"),
        ("202.555.0100", "us", "+12025550100"),
        ("030 1234 5601", "DE", "+493012345601"),
        ("020 7183 8750", "GB", "+442071838750"),
        ("+49 30 1234 5601", "US", "+493012345601"),  # its own + wins over the region
    ],
)
def test_a_region_reads_national_formats(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region.upper()) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("(202) 555-0100", None, "no leading '+'"),
        ("030 1234 5601", None, "no leading '+'"),
        ("000 000 0000", "US", "not a valid number (read in region US)"),
        ("1-800-FLOWERS", "US", "characters other than digits"),
        ("(202) 555-0100 x5", "US", "characters other than digits"),
        ("+" + "+12025550100", "US", "characters other than digits"),
    ],
)
def test_national_formats_need_a_region_and_still_a_valid_number(
    raw: str, region: str | None, reason: str
) -> None:
    with pytest.raises(InvalidPhoneNumber, match=re.escape(reason)) as info:
        normalize_phone(raw, region)
    assert "555-0100" not in str(info.value) and "5550100" not in str(info.value)


@pytest.mark.parametrize(
    ("number", "line_type"),
    [
        ("+12025550100", "fixed_line_or_mobile"),  # US: mobiles and landlines look alike
        ("+493012345601", "fixed_line"),
        ("+4915123456789", "mobile"),
        ("+18002530000", "toll_free"),
        ("+447911123456", "mobile"),
    ],
)
def test_the_line_type_comes_with_the_number(number: str, line_type: str) -> None:
    assert parse_phone(number).line_type == line_type
    assert Contact(phone_number=number).line_type == line_type


@given(st.text("+0123456789 ", min_size=2, max_size=17))
def test_a_number_is_valid_exactly_when_libphonenumber_says_so(text: str) -> None:
    """The type is looked up once and validity derived from it: the same verdict as
    ``is_valid_number`` (and the same number) for every input the character check lets by."""
    import phonenumbers

    try:
        ours = parse_phone(text)
    except InvalidPhoneNumber:
        ours = None
    try:
        theirs = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        theirs = None
    if ours is not None:
        assert theirs is not None and phonenumbers.is_valid_number(theirs)
        assert ours.e164 == phonenumbers.format_number(theirs, phonenumbers.PhoneNumberFormat.E164)
    elif theirs is not None and text.strip().startswith("+") and "+" not in text.strip()[1:]:
        assert not phonenumbers.is_valid_number(theirs)


def test_the_region_code_is_checked_naming_the_field_and_the_value() -> None:
    with pytest.raises(ValueError, match=r"default_region 'XX' is not an ISO 3166-1 alpha-2"):
        parse_contacts([{"phone_number": NUMBER}], default_region="XX")
    batch = parse_contacts([{"phone_number": "(202) 555-0100", "region": "Narnia"}])
    assert {(r.field, r.row) for r in batch.rejected} == {("region", 1), ("phone_number", 1)}
    assert "region 'NARNIA' is not an ISO 3166-1 alpha-2" in batch.rejected[-1].message


def test_default_region_reads_national_rows_and_a_rows_region_wins() -> None:
    batch = parse_contacts(
        [
            {"phone_number": "(202) 555-0100"},
            {"phone_number": "030 1234 5601", "region": "DE"},
            {"phone_number": "+44 20 7183 8750", "region": "DE"},
            {"phone_number": "+1 000 000 0000"},
            {"phone_number": "202-555-0100", "name": "same number again"},
        ],
        default_region="US",
    )
    assert [(c.phone_number, c.line_type) for c in batch.contacts] == [
        ("+12025550100", "fixed_line_or_mobile"),
        ("+493012345601", "fixed_line"),
        ("+442071838750", "fixed_line"),
    ]
    assert batch.duplicates == 1
    assert [(r.row, r.value) for r in batch.rejected] == [(4, "+1•••••0000")]
    assert "is not a valid number" in batch.rejected[0].message


def test_a_region_column_in_a_file_overrides_the_default(tmp_path: Path) -> None:
    path = tmp_path / "national.csv"
    path.write_text("phone_number,region\n(202) 555-0100,\n030 1234 5601,de\n0301234,\n")
    batch = load_contacts_file(path, default_region="US")
    assert [(c.phone_number, c.region) for c in batch.contacts] == [
        ("+12025550100", "US"),
        ("+493012345601", "DE"),
    ]
    assert [(r.row, r.field) for r in batch.rejected] == [(4, "phone_number")]
    assert "in region US" in batch.rejected[0].message


# --- the Contact model ---------------------------------------------------------------------


def test_contact_normalises_and_validates_fields() -> None:
    contact = Contact(
        phone_number="+1 (415) 555-0123",
        name="  Ada ",
        participant_id="6f1c2a4e-8a5b-4c1e-9d2a-3b4c5d6e7f80",
        timezone="america/new_york",
        context={"first_name": "Ada"},
    )
    assert contact.phone_number == NUMBER
    assert contact.name == "Ada"
    assert contact.participant_id == UUID("6f1c2a4e-8a5b-4c1e-9d2a-3b4c5d6e7f80")
    assert contact.timezone == "America/New_York"
    assert contact.context == {"first_name": "Ada"}


def test_contact_is_frozen() -> None:
    contact = Contact(phone_number=NUMBER)
    with pytest.raises(ValidationError):
        contact.phone_number = "+14155550124"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "x" * 201), ("timezone", "Mars/Base"), ("timezone", "localtime")],
)
def test_contact_rejects_bad_fields(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Contact(phone_number=NUMBER, **{field: value})


def test_contact_repr_and_str_mask_the_number_and_hide_context_values() -> None:
    contact = Contact(phone_number=NUMBER, name="Ada", context={"callback": "+14155550999"})
    for text in (repr(contact), str(contact), f"{contact}", repr([contact])):
        assert NUMBER not in text
        assert "+14155550999" not in text
        assert MASKED in text
        assert "callback" in text


def test_contact_validation_error_masks_the_number() -> None:
    with pytest.raises(ValidationError) as info:
        Contact(phone_number="+1234567890123456")
    assert "+1234567890123456" not in str(info.value)
    assert "+1234567890123456" not in repr(info.value)


# --- list input ----------------------------------------------------------------------------


def test_parse_contacts_validates_dedupes_and_reports_rows() -> None:
    batch = parse_contacts(
        [
            {"phone_number": NUMBER, "name": "Ada"},
            {"phone_number": "4155550124"},
            {"phone_number": "+1 415 555 0123", "name": "Ada again"},
            Contact(phone_number="+14155550125"),
            "+14155550126",
            {"phone_number": "+14155550127", "timezone": "Nowhere/Land"},
        ]
    )
    assert [c.phone_number for c in batch.contacts] == [NUMBER, "+14155550125"]
    assert batch.contacts[0].name == "Ada"  # first occurrence wins
    assert batch.duplicates == 1
    assert batch.total_rows == 6
    assert [(r.row, r.field) for r in batch.rejected] == [
        (2, "phone_number"),
        (5, "row"),
        (6, "timezone"),
    ]
    assert batch.rejected[0].value == "•••••0124"


def test_parse_contacts_maps_context_keys_and_warns_once_about_unknown_ones() -> None:
    batch = parse_contacts(
        [
            {"phone_number": NUMBER, "context.first_name": "Ada", "context.a.b": "x", "foo": 1},
            {"phone_number": "+14155550124", "context": {"a": {"c": 1}}, "context.a.b": "y"},
            {"phone_number": "+14155550125", "foo": 2, "bar": None},
        ]
    )
    assert batch.contacts[0].context == {"first_name": "Ada", "a": {"b": "x"}}
    assert batch.contacts[1].context == {"a": {"c": 1, "b": "y"}}
    assert batch.warnings == ["ignored unknown columns: 'bar', 'foo'"]


def test_dotted_context_keys_do_not_mutate_the_callers_object() -> None:
    nested = {"a": {"c": 1}}
    parse_contacts([{"phone_number": NUMBER, "context": nested, "context.a.b": "y"}])
    assert nested == {"a": {"c": 1}}


def test_conflicting_context_keys_reject_the_row() -> None:
    batch = parse_contacts([{"phone_number": NUMBER, "context.a": "x", "context.a.b": "y"}])
    assert batch.contacts == []
    assert batch.rejected[0].field == "context.a.b"
    assert "conflicts" in batch.rejected[0].message


def test_default_timezone_fills_only_missing_zones() -> None:
    batch = parse_contacts(
        [
            {"phone_number": NUMBER},
            {"phone_number": "+14155550124", "timezone": "Asia/Tokyo"},
            Contact(phone_number="+14155550125"),
        ],
        default_timezone="Europe/Berlin",
    )
    assert [c.timezone for c in batch.contacts] == ["Europe/Berlin", "Asia/Tokyo", "Europe/Berlin"]


def test_unknown_default_timezone_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_contacts([], default_timezone="Mars/Base")


def test_a_row_with_two_bad_fields_is_rejected_once_per_field() -> None:
    batch = parse_contacts([{"phone_number": "123", "timezone": "Nope/Nope", "name": "A"}])
    assert {r.field for r in batch.rejected} == {"phone_number", "timezone"}
    assert batch.rejected_rows == 1


# --- files ---------------------------------------------------------------------------------


def test_good_csv_loads_every_column() -> None:
    batch = load_contacts_file(DATA / "contacts_good.csv")
    assert batch.rejected == []
    assert [c.phone_number for c in batch.contacts] == [NUMBER, "+493012345678", "+12125550199"]
    ada, jurgen, john = batch.contacts
    assert ada.participant_id == UUID("6f1c2a4e-8a5b-4c1e-9d2a-3b4c5d6e7f80")
    assert ada.context == {"first_name": "Ada", "order": {"id": "A-1"}}
    assert jurgen.name == "Jürgen Groß"
    assert jurgen.context == {"first_name": "Jürgen"}  # empty cells are absent
    assert jurgen.participant_id is None
    assert john.name == "Smith, John"
    assert john.timezone is None
    assert batch.warnings == ["ignored unknown columns: 'notes'"]


def test_bom_is_ignored() -> None:
    batch = load_contacts_file(DATA / "contacts_bom.csv")
    assert [(c.phone_number, c.name) for c in batch.contacts] == [(NUMBER, "Zoë")]
    assert batch.warnings == []


def test_latin1_file_fails_naming_file_line_and_offset() -> None:
    with pytest.raises(ContactFileError) as info:
        load_contacts_file(DATA / "contacts_latin1.csv")
    message = str(info.value)
    assert "contacts_latin1.csv" in message
    assert "UTF-8" in message
    assert "line 3" in message
    offset = (DATA / "contacts_latin1.csv").read_bytes().index(b"\xfc")  # the Latin-1 'ü'
    assert f"byte offset {offset}" in message


def test_decode_error_late_in_a_big_file_is_still_located(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    rows = "".join(f"+1415200{i:04d},Name\n" for i in range(5000))
    path.write_bytes(b"phone_number,name\n" + rows.encode() + b"+14155550000,Ren\xe9e\n")
    with pytest.raises(ContactFileError, match="line 5002"):
        load_contacts_file(path)


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("contacts_empty.csv", "is empty"),
        ("contacts_header_only.csv", "header but no data rows"),
    ],
)
def test_empty_and_header_only_files_give_an_empty_batch_with_a_warning(
    name: str, warning: str
) -> None:
    batch = load_contacts_file(DATA / name)
    assert batch.contacts == []
    assert batch.total_rows == 0
    assert len(batch.warnings) == 1
    assert warning in batch.warnings[0]


def test_missing_phone_number_column_names_the_columns_found() -> None:
    with pytest.raises(ContactFileError, match=r"no phone_number column.*'phone', 'name'"):
        load_contacts_file(DATA / "contacts_missing_column.csv")


def test_headerless_csv_error_does_not_print_the_number(tmp_path: Path) -> None:
    path = tmp_path / "no_header.csv"
    path.write_text(f"{NUMBER},Ada\n")
    with pytest.raises(ContactFileError) as info:
        load_contacts_file(path)
    assert NUMBER not in str(info.value)
    assert MASKED in str(info.value)


def test_duplicate_column_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("phone_number,Phone_Number\n+14155550123,+14155550124\n")
    with pytest.raises(ContactFileError, match="appears twice"):
        load_contacts_file(path)


def test_bogus_timezone_rejects_the_row_on_field_timezone() -> None:
    batch = load_contacts_file(DATA / "contacts_bogus_timezone.csv")
    assert [r.row for r in batch.rejected] == [2]
    rejection = batch.rejected[0]
    assert rejection.field == "timezone"
    assert rejection.value == "Mars/Olympus_Mons"
    assert "Mars/Olympus_Mons" in rejection.message
    assert [(c.phone_number, c.timezone) for c in batch.contacts] == [
        ("+14155550124", "Europe/Berlin")
    ]


def test_mixed_file_rejects_rows_by_number_and_keeps_the_valid_ones() -> None:
    batch = load_contacts_file(DATA / "contacts_mixed.csv")
    assert [c.name for c in batch.contacts] == ["Valid One", "Valid Two"]
    got = [(r.row, r.field, r.value) for r in batch.rejected]
    assert got == [
        (3, "phone_number", "•••••0124"),
        (4, "phone_number", "+1•••••012x"),
        (5, "phone_number", ""),
        (6, "phone_number", "+1•••••3456"),
        (10, "timezone", "Not/AZone"),
    ]
    assert batch.duplicates == 1
    assert batch.total_rows == 8  # the fully blank row 9 is skipped, not counted
    assert batch.total_rows == len(batch.contacts) + batch.duplicates + batch.rejected_rows
    for rejection in batch.rejected:
        assert rejection.message.startswith(f"row {rejection.row}: {rejection.field}")
        if rejection.value:
            assert rejection.value in rejection.message


def test_no_full_number_in_any_rejection_or_batch_repr() -> None:
    batch = load_contacts_file(DATA / "contacts_mixed.csv")
    raw = (DATA / "contacts_mixed.csv").read_text()
    numbers = [line.split(",")[0] for line in raw.splitlines()[1:] if len(line.split(",")[0]) > 9]
    text = repr(batch) + str(batch) + repr(batch.rejected) + repr(batch.contacts)
    text += "".join(r.message + r.value for r in batch.rejected)
    for number in numbers:
        assert number not in text


def test_batch_repr_is_a_summary() -> None:
    batch = load_contacts_file(DATA / "contacts_mixed.csv")
    assert repr(batch) == (
        "ContactBatch(contacts=2, rejected=5, duplicates=1, total_rows=8, warnings=0)"
    )


def test_multiline_quoted_cell_counts_as_one_spreadsheet_row(tmp_path: Path) -> None:
    path = tmp_path / "multiline.csv"
    path.write_text('phone_number,name\n+14155550123,"Ada\nLovelace"\n4155550124,Bob\n')
    batch = load_contacts_file(path)
    assert batch.contacts[0].name == "Ada\nLovelace"
    assert [r.row for r in batch.rejected] == [3]


def test_short_rows_treat_missing_cells_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("phone_number,name,timezone\n+14155550123\n")
    batch = load_contacts_file(path)
    assert batch.contacts == [Contact(phone_number=NUMBER)]


def test_json_list_file() -> None:
    batch = load_contacts_file(DATA / "contacts.json")
    assert [c.phone_number for c in batch.contacts] == [NUMBER, "+14155550125"]
    assert batch.contacts[0].context == {"first_name": "Ada"}
    assert batch.contacts[1].context == {"order": {"id": "X-9"}}
    assert [(r.row, r.field) for r in batch.rejected] == [(2, "phone_number"), (3, "row")]


def test_json_must_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "object.json"
    path.write_text(json.dumps({"phone_number": NUMBER}))
    with pytest.raises(ContactFileError, match="JSON list"):
        load_contacts_file(path)


def test_invalid_json_is_a_file_error_without_the_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(f'[{{"phone_number": "{NUMBER}"')
    with pytest.raises(ContactFileError, match="invalid JSON") as info:
        load_contacts_file(path)
    assert NUMBER not in str(info.value)


def test_jsonl_rows_are_line_numbers() -> None:
    batch = load_contacts_file(DATA / "contacts.jsonl")
    assert [c.phone_number for c in batch.contacts] == [NUMBER]
    assert [(r.row, r.field) for r in batch.rejected] == [(3, "phone_number"), (4, "row")]


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ContactFileError, match="unsupported file type"):
        load_contacts_file(path)


def test_default_timezone_applies_to_file_rows() -> None:
    batch = load_contacts_file(DATA / "contacts_good.csv", default_timezone="America/Chicago")
    assert [c.timezone for c in batch.contacts] == [
        "America/New_York",
        "Europe/Berlin",
        "America/Chicago",
    ]


def test_hundred_thousand_rows_stream_through(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone_number", "name", "timezone", "context.first_name"])
        for i in range(100_000):
            # Every 1000th row is a duplicate of the previous one, every 997th is invalid.
            number = f"+1415{2_000_000 + (i - 1 if i % 1000 == 999 else i):07d}"
            writer.writerow([number if i % 997 else "12345", f"N{i}", "America/New_York", i])
    batch = load_contacts_file(path)
    invalid = len(range(0, 100_000, 997))
    duplicates = sum(1 for i in range(999, 100_000, 1000) if i % 997 and (i - 1) % 997)
    assert batch.total_rows == 100_000
    assert len(batch.rejected) == invalid
    assert batch.duplicates == duplicates
    assert len(batch.contacts) == 100_000 - invalid - duplicates
    assert batch.contacts[-1].context == {"first_name": "99998"}  # row 99999 is a duplicate


def test_rejection_model_round_trips() -> None:
    rejection = ContactRejection(row=2, field="timezone", value="X", message="row 2: timezone")
    assert ContactRejection.model_validate(rejection.model_dump()) == rejection
    assert ContactBatch.model_validate(ContactBatch().model_dump()) == ContactBatch()


def test_batch_validation_errors_do_not_echo_numbers() -> None:
    with pytest.raises(ValidationError) as info:
        ContactBatch.model_validate({"contacts": [{"phone_number": NUMBER, "name": 5}]})
    with pytest.raises(ValidationError) as other:
        ContactBatch.model_validate({"contacts": [{"phone_number": 14155550123}]})
    for error in (info.value, other.value):
        assert "4155550123" not in str(error)


def test_input_modules_do_not_import_prefect() -> None:
    # A fresh interpreter: in this one, other tests may already have imported Prefect.
    code = (
        "import sys, casey_flows.campaign.contacts, casey_flows.campaign.calling_window, "
        "casey_flows.campaign.suppression; "
        "sys.exit('prefect' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
