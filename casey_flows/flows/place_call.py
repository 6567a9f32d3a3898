"""The ``place_call`` flow: one call, created and (optionally) waited for, from Python or the UI."""

# Annotations are evaluated, not deferred: a served run gets this flow cloudpickled by value
# (see casey_flows/flows/__init__.py).
from typing import Annotated, Any
from uuid import UUID

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import Field

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME, resolve_credentials
from casey_flows.campaign.outcomes import Outcome, describe_outcome, outcome_label
from casey_flows.campaign.phone_numbers import DefaultRegion, normalize_phone
from casey_flows.client import Call, mask_phone, normalize_status
from casey_flows.core.dispatch import DEFAULT_REDIAL_AFTER_SECONDS
from casey_flows.core.waiting import WaitPolicy
from casey_flows.exceptions import CallLost, CallOutcomeFailure, CallWaitTimeout
from casey_flows.exports import md_literal
from casey_flows.run_logs import forwards_logs
from casey_flows.tasks.artifacts import call_summary_markdown
from casey_flows.tasks.calls import create_call, wait_for_call


def _run_name() -> str:
    return f"call {mask_phone(flow_run.parameters.get('phone_number', ''))}"


@forwards_logs
@flow(name="place-call", flow_run_name=_run_name, log_prints=False)
async def place_call(
    phone_number: str,
    connection_code: str,
    name: Annotated[str | None, Field(max_length=200)] = None,
    participant_id: UUID | None = None,
    context: dict[str, Any] | None = None,
    schedule_plan: dict[str, Any] | None = None,
    credentials_block: str = DEFAULT_BLOCK_NAME,
    wait: bool = True,
    timeout_seconds: Annotated[float, Field(gt=0)] = 900.0,
    fail_on: list[str] = ["failed"],  # noqa: B006 - Prefect copies parameters; a tuple would show badly in the UI
    dispatch_key: str | None = None,
    redial_after_seconds: Annotated[float, Field(gt=0)] = DEFAULT_REDIAL_AFTER_SECONDS,
    redial_unconfirmed: bool = True,
    default_region: DefaultRegion = None,
) -> Call:
    """Place one outbound call and return it as it ended (or as dispatched, without ``wait``).

    A retry of the same flow run adopts the call it already placed instead of dialling again.
    The final state message says the outcome in words: "completed", "no answer" (the outcome
    ``no_answer``), "voicemail", ...

    Args:
        phone_number: Number to call: a leading + and the country code (e.g. +14155550100),
            or a national format with default_region. It must be a valid number
            (libphonenumber); it is dialled in E.164.
        connection_code: Code of the Casey call_out connection to dial on.
        name: Who is called (at most 200 characters); the agent may use it.
        participant_id: Casey participant uuid, when the person is known to Casey.
        context: Data for the agent (a JSON object), echoed back on the call.
        schedule_plan: Passed to Casey unchanged (its structure is Casey's).
        credentials_block: Name of the Casey Credentials block that holds the API key.
        wait: Wait until the call ends (off: return as soon as it is dispatched).
        timeout_seconds: Stop waiting after this long; the call is not cancelled.
        fail_on: Outcomes that fail this run, matched against the call's status or
            ended_reason (e.g. failed, no_answer, busy).
        dispatch_key: Dispatch at most once per key. Empty: this flow run and the number, so a
            retry of this run never dials twice.
        redial_after_seconds: After a create that may or may not have reached Casey (timeout,
            dropped connection, 5xx), how long its key may be missing from the call list
            before it is taken as never arrived: the list may trail creates.
        redial_unconfirmed: Then dial it again (on), or leave it and fail the run with
            CreateUnconfirmed: it may have rung (off).
        default_region: ISO 3166-1 alpha-2 code (e.g. US) of the country whose national
            formats phone_number may be in: (202) 555-0100 in US is +12025550100. Empty: the
            number needs its leading + (nothing is guessed).

    Returns:
        The call as it ended (or as dispatched, with ``wait=False``).

    Raises:
        InvalidPhoneNumber: phone_number is not a valid number (before anything is dialled).
        CallOutcomeFailure: the call ended with an outcome in ``fail_on``.
        CallWaitTimeout: still open after ``timeout_seconds`` (it is not cancelled).
        CallLost: the API stopped knowing the call; it is not placed again.
        CreateUnconfirmed: with ``redial_unconfirmed=False``, a create that may have rung and
            that the call list never showed; it is not placed again.

    Example:
        ```python
        from casey_flows import place_call

        call = await place_call(phone_number="+12025550100", connection_code="demo-outbound")
        print(call.status, call.ended_reason)
        ```
    """
    e164 = normalize_phone(phone_number, default_region)  # invalid: fails before any request
    credentials = await resolve_credentials(credentials_block)  # once per run, for both tasks
    call = await create_call(
        credentials,
        connection_code,
        e164,
        name=name,
        participant_id=participant_id,
        context=context,
        schedule_plan=schedule_plan,
        dispatch_key=dispatch_key,
        redial_after_seconds=redial_after_seconds,
        redial_unconfirmed=redial_unconfirmed,
    )
    if wait:
        policy = WaitPolicy(timeout_seconds=timeout_seconds)
        try:
            call = await wait_for_call(credentials, connection_code, call, policy=policy)
        except CallWaitTimeout:
            await acreate_markdown_artifact(call_summary_markdown(call, Outcome.STILL_OPEN.label))
            raise
        except CallLost:
            await acreate_markdown_artifact(call_summary_markdown(call, Outcome.LOST.label))
            raise
    outcome = outcome_label(describe_outcome(call) if wait else Outcome.DISPATCHED)
    await acreate_markdown_artifact(
        call_summary_markdown(call, outcome), description=md_literal(outcome)
    )
    failing = {normalize_status(f) for f in fail_on}
    if wait and failing & {call.normalized_status, normalize_status(call.ended_reason)}:
        raise CallOutcomeFailure(f"call {call.id} ended: {outcome}")
    # A returned State is unwrapped by Prefect: the caller gets its data, as annotated.
    return Completed(message=outcome, data=call)  # type: ignore[return-value]
