"""Table shapes: what a call, its answers and its transcript become as rows."""

from __future__ import annotations

from datetime import datetime, timezone

from casey_flows.campaign.outcomes import Outcome
from casey_flows.client import Call
from casey_flows.core.dispatch import campaign_of_key
from casey_flows.warehouse import rows

NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)


def test_call_row_carries_dispatch_key_and_campaign_id() -> None:
    call = Call(
        id="c1",
        phone_number="+14155550100",
        created_at="2026-11-29T10:00:00Z",
        context={"dispatch_key": "spring:2026:ab12cd:1", "campaign_id": "spring:2026"},
        vendor_extra={"kept": True},
    )
    row = rows.call_row(call, is_final=True, synced_at=NOW)
    assert row["dispatch_key"] == "spring:2026:ab12cd:1"
    assert row["campaign_id"] == "spring:2026"
    assert row["phone_number"] == "+14155550100"  # the warehouse keeps the data as it is
    assert row["vendor_extra"] == {"kept": True}
    assert row["created_at"] == datetime(2026, 11, 29, 10, tzinfo=timezone.utc)
    assert "created_at_raw" not in row  # parsed: the raw twin is folded away


def test_the_line_type_is_derived_from_the_number_the_call_was_placed_to() -> None:
    def line_type(**fields: str) -> object:
        return rows.call_row(Call(id="c1", **fields), is_final=True, synced_at=NOW)["line_type"]

    assert line_type(phone_number="+14155550100") == "fixed_line_or_mobile"
    assert line_type(phone_number="+447911123456") == "mobile"
    assert line_type(phone_number="+442079460100") == "fixed_line"
    assert line_type(phone_number="+10000000000") == "unknown"  # no valid number: said so
    assert line_type() is None  # no number on the call: nothing to derive it from


def test_campaign_id_derived_from_the_key_for_older_calls() -> None:
    call = Call(id="c1", context={"dispatch_key": "reminders:2026-11-27:0123abcd:2"})
    assert rows.call_row(call, is_final=False, synced_at=NOW)["campaign_id"] == (
        "reminders:2026-11-27"
    )
    assert campaign_of_key("no-key") is None
    assert campaign_of_key(None) is None


def test_a_final_call_has_the_campaigns_outcome_value_an_open_one_none() -> None:
    def outcome(is_final: bool, **fields: str) -> object:
        return rows.call_row(Call(id="c1", **fields), is_final=is_final, synced_at=NOW)["outcome"]

    assert outcome(True, status="No-Answer") == Outcome.NO_ANSWER.value == "no_answer"
    assert outcome(True, status="completed", ended_reason="voicemail") == "voicemail"
    assert outcome(True, status="Carrier Rejected") == "carrier_rejected"  # unknown: normalised
    assert outcome(False, status="ringing") is None
    assert type(outcome(True, status="busy")) is str  # the value, not the member


def test_unparseable_created_at_keeps_its_raw_text() -> None:
    row = rows.call_row(Call(id="c1", created_at="yesterday"), is_final=True, synced_at=NOW)
    assert row["created_at"] is None and row["created_at_raw"] == "yesterday"


def test_answers_pivot_long_rows_to_one_row_per_conversation() -> None:
    long = [
        {"conversation_id": "v1", "call_id": "c1", "field_id": "opt_out", "value": False},
        {"conversation_id": "v1", "call_id": "c1", "field_id": "preferred_time", "value": "am"},
        {"conversation_id": "v2", "call_id": "c2", "field_id": "opt_out", "value": True},
    ]
    assert rows.answers_rows(long) == [
        {"conversation_id": "v1", "call_id": "c1", "opt_out": False, "preferred_time": "am"},
        {"conversation_id": "v2", "call_id": "c2", "opt_out": True},
    ]


def test_field_value_text_is_comparable_whatever_the_type() -> None:
    from casey_flows.client import ConversationField

    fields = [
        ConversationField(field_id="a", value=True),
        ConversationField(field_id="b", value="yes"),
        ConversationField(field_id="c", value={"x": 1}),
        ConversationField(field_id="d", value=None),
    ]
    texts = [r["value_text"] for r in rows.field_rows("v1", "c1", fields)]
    assert texts == ["true", "yes", '{"x": 1}', None]


def test_opt_out_answers_that_count_as_yes() -> None:
    for yes in (True, "yes", "YES ", "true", 1):
        assert rows.is_truthy_answer(yes)
    for no in (False, "no", "", None, 0, {"x": 1}):
        assert not rows.is_truthy_answer(no)
