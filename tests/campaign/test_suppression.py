"""The do-not-call list: same normalisation as contacts, masked reporting, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

import casey_flows.campaign.suppression
from casey_flows.campaign.contacts import Contact, ContactFileError, parse_contacts
from casey_flows.campaign.phone_numbers import normalize_phone
from casey_flows.campaign.suppression import SuppressionList
from tests.phone_samples import VALID_E164

DATA = Path(__file__).parents[1] / "data"
NUMBER = "+14155550123"


def test_numbers_are_normalised_like_contacts() -> None:
    suppression = SuppressionList(["+1 (415) 555-0123", "+49 30 123456"])
    assert NUMBER in suppression
    assert "+1-415-555-0123" in suppression
    assert "+4930123456" in suppression
    assert "+14155550124" not in suppression
    assert len(suppression) == 2


def test_it_reuses_the_contacts_normaliser_rather_than_a_copy() -> None:
    # (the one the contacts are read with: casey_flows.campaign.phone_numbers)
    assert casey_flows.campaign.suppression.normalize_phone is normalize_phone


def test_invalid_entries_are_reported_masked_and_do_not_crash() -> None:
    suppression = SuppressionList([NUMBER, "4155550124", "call me", "+1234567890123456"])
    assert len(suppression) == 1
    assert [(r.line, r.value) for r in suppression.rejected] == [
        (2, "•••••0124"),
        (3, "•••••"),
        (4, "+1•••••3456"),
    ]
    text = repr(suppression.rejected) + "".join(r.message for r in suppression.rejected)
    for raw in ("4155550124", "+1234567890123456"):
        assert raw not in text
    assert suppression.rejected[0].message.startswith("list line 2: ")


def test_non_text_entries_are_rejected_not_raised() -> None:
    suppression = SuppressionList([NUMBER, 14155550124, None])  # type: ignore[list-item]
    assert len(suppression) == 1
    assert len(suppression.rejected) == 2
    assert "must be text" in suppression.rejected[0].message


def test_membership_of_invalid_or_odd_values_is_false_not_an_error() -> None:
    suppression = SuppressionList([NUMBER])
    assert "4155550123" not in suppression
    assert None not in suppression
    assert 14155550123 not in suppression


def test_contacts_are_checked_by_their_normalised_number() -> None:
    suppression = SuppressionList(["+1 415 555 0124"])
    batch = parse_contacts([{"phone_number": p} for p in (NUMBER, "+14155550124", "+1415555012")])
    assert [c in suppression for c in batch.contacts] == [False, True]
    assert [r.row for r in batch.rejected] == [3]  # 10 digits: no valid number, never dialled


def test_repr_never_prints_numbers() -> None:
    suppression = SuppressionList([NUMBER, "4155550124"])
    for text in (repr(suppression), str(suppression)):
        assert NUMBER not in text
        assert "4155550124" not in text
        assert "0123" not in text
    assert repr(suppression) == "SuppressionList(numbers=1, rejected=1)"


def test_plain_text_file_with_comments_and_blank_lines() -> None:
    suppression = SuppressionList.from_file(DATA / "suppression.txt")
    assert len(suppression) == 3
    assert NUMBER in suppression
    assert "+14155550124" in suppression  # the trailing "# asked twice" is a comment
    assert "+4930123456" in suppression
    assert [(r.source, r.line, r.value) for r in suppression.rejected] == [
        ("suppression.txt", 5, "•••••0125")
    ]
    assert "suppression.txt line 5" in suppression.rejected[0].message


def test_csv_file_uses_the_phone_number_column() -> None:
    suppression = SuppressionList.from_file(DATA / "suppression.csv")
    assert len(suppression) == 2
    assert NUMBER in suppression and "+14155550124" in suppression
    assert [(r.line, r.value) for r in suppression.rejected] == [(5, "•••••mber")]


def test_sources_combine(tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("+14155550199\n")
    suppression = SuppressionList([NUMBER])
    suppression.add_file(extra)
    suppression.update(["+14155550198"], source="api")
    assert len(suppression) == 3
    assert "+14155550199" in suppression


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n", "phone_number\n"])
def test_empty_files_give_an_empty_list(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.txt"
    path.write_text(content)
    suppression = SuppressionList.from_file(path)
    assert len(suppression) == 0
    assert suppression.rejected == []


def test_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf+14155550123\n")
    assert NUMBER in SuppressionList.from_file(path)


def test_non_utf8_file_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("phone_number,name\n+14155550123,J\u00fcrgen\n".encode("latin-1"))
    with pytest.raises(ContactFileError, match=r"latin1\.csv: not valid UTF-8 at line 2"):
        SuppressionList.from_file(path)


def test_membership_scales_with_a_set(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("".join(f"+1415{2_000_000 + i:07d}\n" for i in range(50_000)))
    suppression = SuppressionList.from_file(path)
    assert len(suppression) == 50_000
    assert all(f"+1415{2_000_000 + i:07d}" in suppression for i in range(0, 50_000, 101))
    assert "+14152050000" not in suppression


@given(VALID_E164)
def test_a_listed_number_always_suppresses_the_same_contact(number: str) -> None:
    spaced = number[:3] + " " + number[3:]
    suppression = SuppressionList([spaced])
    assert Contact(phone_number=number) in suppression


def test_a_region_reads_national_entries_and_unreadable_ones_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "dnc.txt"
    path.write_text("(415) 555-0123\n+44 20 7946 0113\n030 1234 5601\n+1 000 000 0000\n")
    suppression = SuppressionList.from_file(path, region="us")
    assert suppression.region == "US"
    assert NUMBER in suppression and "+442079460113" in suppression
    assert "(415) 555-0123" in suppression  # a national contact, read in the same region
    assert len(suppression) == 2
    assert [(r.line, r.value) for r in suppression.rejected] == [
        (3, "•••••5601"),  # a German national number read as American: no valid number
        (4, "+1•••••0000"),
    ]
    assert "is not a valid number" in suppression.rejected[1].message
    for rejection in suppression.rejected:
        assert "5601" not in rejection.message.replace("•••••5601", "")


def test_without_a_region_national_entries_are_reported_not_dropped() -> None:
    suppression = SuppressionList(["(415) 555-0123", NUMBER])
    assert len(suppression) == 1
    assert [(r.line, r.value) for r in suppression.rejected] == [(1, "•••••0123")]
    assert "default_region" in suppression.rejected[0].message


def test_an_unknown_region_names_the_field_and_the_value() -> None:
    with pytest.raises(ValueError, match=r"default_region 'ZZ' is not an ISO 3166-1 alpha-2"):
        SuppressionList([NUMBER], region="zz")


def test_a_refresh_reports_entries_that_became_unreadable_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first read's rejections are the run's warnings (the flow logs them); a later read
    logs each new one, masked, so an entry added mid-campaign that names nobody is seen."""
    import asyncio
    import logging

    from casey_flows.campaign.live_suppression import LiveSuppression

    entries = [NUMBER, "(415) 555-0124"]

    async def read() -> list[SuppressionList]:
        return [SuppressionList(list(entries), source="dnc.txt", region=None)]

    live = LiveSuppression(read, refresh_seconds=300, max_stale_seconds=1800)
    with caplog.at_level(logging.WARNING, logger="casey_flows.campaign.live_suppression"):
        asyncio.run(live.refresh())
        assert caplog.messages == []
        assert len(live.rejected) == 1 and "•••••0124" in live.rejected[0]
        entries.append("+1 000 000 0000")
        asyncio.run(live.refresh())
    assert len(caplog.messages) == 1
    assert "suppression entry ignored" in caplog.messages[0]
    assert "+1•••••0000" in caplog.messages[0] and "0000000000" not in caplog.messages[0]
    assert len(live) == 1
