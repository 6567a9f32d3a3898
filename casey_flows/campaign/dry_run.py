"""A dry run: every contact planned as it is read, none dialled.

The planner (``casey_flows.campaign.eta``) simulates the engine one contact at a time, so a list
of any size plans in flat memory: each contact's ``planned`` or ``deferred`` outcome goes to the
outcome log and is let go. No Prefect, no HTTP.
"""

from __future__ import annotations

from datetime import datetime, timezone

from casey_flows.campaign.eta import DiallingPlanner, PlanSettings, preview
from casey_flows.campaign.models import CampaignPreview, ContactOutcome
from casey_flows.campaign.outcomes import Outcome
from casey_flows.campaign.screening import Screening


def plan_contacts(
    screening: Screening,
    settings: PlanSettings,
    *,
    max_attempts: int = 1,
    assumed: list[str] | None = None,
    now: datetime | None = None,
) -> CampaignPreview:
    """Each contact planned (with when it would be dialled) or deferred, into the screening's
    outcome log, as it is read; the plan's summary and ETA."""
    planner = DiallingPlanner(settings, now or datetime.now(timezone.utc))
    outcome_log = screening.outcome_log
    for contact in screening:
        step = planner.plan(contact.timezone)
        if step.start is not None:
            outcome = ContactOutcome.of(
                contact,
                Outcome.PLANNED,
                planned_at=step.start,
                reason=f"dry run: would be dialled at {step.start:%Y-%m-%d %H:%M:%S} UTC",
            )
        else:
            outcome = ContactOutcome.of(
                contact, Outcome.DEFERRED, reason=step.deferred_reason, next_call_at=step.next_open
            )
        outcome_log.add(outcome)
    return preview(
        planner.finish(),
        suppressed=screening.suppressed,
        excluded=screening.excluded,
        rejected=screening.rejected,
        max_attempts=max_attempts,
        assumed=assumed,
    )
