"""Prefect events for calls, so automations can react to outcomes.

``casey.call.dispatched`` when a call is created and ``casey.call.<status>`` when it ends, with
``casey.call.<id>`` as the resource and the connection (and campaign) as related resources.
Payloads carry masked numbers only, and an ended call's ``outcome`` as the CSV export writes it
(``no_answer``, ``voicemail``: :class:`~casey_flows.campaign.outcomes.Outcome` values).
"""

from __future__ import annotations

from typing import Any, Literal

from prefect.events import emit_event

from casey_flows.campaign.outcomes import describe_outcome, outcome_value
from casey_flows.client import Call, mask_phone
from casey_flows.core.dispatch import dispatch_key_of

# Which calls a campaign reports as events. Every event is a write in the Prefect server (and
# metered on Prefect Cloud): at campaign scale the default is the calls an automation acts on.
CallEvents = Literal["all", "failures", "none"]
CALL_EVENTS_HELP = (
    "Prefect events per call: 'failures' (default) emits casey.call.<status> for calls that did "
    "not end completed; 'all' also every dispatch and completion; 'none' none. Campaign "
    "progress and completion events are always emitted."
)
SUCCESS_STATUS = "completed"
# Events about a call that has not (necessarily) ended; any other name is an ended call's status.
NOT_ENDED_EVENTS = frozenset({"dispatched", "duplicate"})


def call_events_mode(value: CallEvents | bool) -> CallEvents:
    """``True``/``False`` (the parameter's old type) read as ``"all"``/``"none"``."""
    if isinstance(value, bool):
        return "all" if value else "none"
    return value


def wants_event(mode: CallEvents, what: str, call: Call) -> bool:
    """Whether ``mode`` reports this call's ``what`` (``dispatched`` or ``ended``)."""
    if mode == "all":
        return True
    return mode == "failures" and what == "ended" and call.normalized_status != SUCCESS_STATUS


def call_resource(call: Call) -> dict[str, str]:
    return {
        "prefect.resource.id": f"casey.call.{call.id}",
        "prefect.resource.name": f"call {mask_phone(call.phone_number or '')}",
        "casey.connection": call.connection_code or "",
    }


def related_resources(connection_code: str, campaign_id: str | None) -> list[dict[str, str]]:
    related = [
        {
            "prefect.resource.id": f"casey.connection.{connection_code}",
            "prefect.resource.role": "casey-connection",
        }
    ]
    if campaign_id:
        related.append(
            {
                "prefect.resource.id": f"casey.campaign.{campaign_id}",
                "prefect.resource.role": "casey-campaign",
            }
        )
    return related


def call_payload(call: Call, *, ended: bool = False) -> dict[str, Any]:
    return {
        "call_id": call.id,
        "status": call.status,
        "ended_reason": call.ended_reason,
        "outcome": outcome_value(describe_outcome(call)) if ended else None,
        "phone_number": mask_phone(call.phone_number or ""),
        "conversation_id": call.conversation_id,
        "dispatch_key": dispatch_key_of(call),
    }


def emit_call_event(
    call: Call, what: str, connection_code: str, campaign_id: str | None = None
) -> None:
    """Emit ``casey.call.<what>`` (``dispatched`` or a normalised terminal status)."""
    emit_event(
        event=f"casey.call.{what}",
        resource=call_resource(call),
        related=related_resources(connection_code, campaign_id),
        payload=call_payload(call, ended=what not in NOT_ENDED_EVENTS),
    )
