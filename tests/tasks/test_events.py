"""Which calls a campaign reports as Prefect events (each one is a write in the server)."""

from __future__ import annotations

from casey_flows.client import Call
from casey_flows.tasks.events import call_events_mode, wants_event

COMPLETED = Call(id="a", status="completed", ended_reason="customer_ended_call")
FAILED = Call(id="b", status="failed", ended_reason="provider_error")
NO_ANSWER = Call(id="c", status="No-Answer")


def test_failures_reports_calls_that_did_not_complete_and_nothing_else() -> None:
    assert not wants_event("failures", "dispatched", FAILED)
    assert not wants_event("failures", "ended", COMPLETED)
    assert wants_event("failures", "ended", FAILED)
    assert wants_event("failures", "ended", NO_ANSWER)


def test_all_and_none() -> None:
    assert all(wants_event("all", what, COMPLETED) for what in ("dispatched", "ended"))
    assert not any(wants_event("none", "ended", c) for c in (COMPLETED, FAILED))


def test_the_old_boolean_still_means_all_or_none() -> None:
    assert call_events_mode(True) == "all"
    assert call_events_mode(False) == "none"
    assert call_events_mode("failures") == "failures"
