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
from casey_flows.client import E164_PATTERN, Call, mask_phone, normalize_status
from casey_flows.exceptions import CallOutcomeFailure
from casey_flows.exports import md_literal
from casey_flows.flows.params import CredentialsBlockName
from casey_flows.run_logs import forwards_logs
from casey_flows.tasks.artifacts import call_summary_markdown
from casey_flows.tasks.calls import CallLost, CallWaitTimeout, create_call, wait_for_call
from casey_flows.tasks.dispatch import DEFAULT_REDIAL_AFTER_SECONDS, REDIAL_AFTER_HELP, REDIAL_HELP
from casey_flows.tasks.waiting import WaitPolicy, describe_outcome


def _run_name() -> str:
    return f"call {mask_phone(flow_run.parameters.get('phone_number', ''))}"


@flow(name="place-call", flow_run_name=_run_name, log_prints=False)
@forwards_logs
async def place_call(
    phone_number: Annotated[
        str,
        Field(
            pattern=E164_PATTERN,
            description="Number to call, E.164 (e.g. +14155550100).",
        ),
    ],
    connection_code: Annotated[str, Field(description="Code of a call_out connection.")],
    name: Annotated[str | None, Field(max_length=200, description="Who is called.")] = None,
    participant_id: Annotated[UUID | None, Field(description="Participant uuid.")] = None,
    context: Annotated[
        dict[str, Any] | None, Field(description="Data for the agent, echoed on the call.")
    ] = None,
    schedule_plan: Annotated[
        dict[str, Any] | None, Field(description="Passed to Casey unchanged.")
    ] = None,
    credentials_block: CredentialsBlockName = DEFAULT_BLOCK_NAME,
    wait: Annotated[bool, Field(description="Wait until the call ends.")] = True,
    timeout_seconds: Annotated[
        float, Field(gt=0, description="Stop waiting after this (the call is not cancelled).")
    ] = 900.0,
    fail_on: Annotated[
        list[str],
        Field(description="Outcomes (status or ended_reason) that fail this run."),
    ] = ["failed"],  # noqa: B006 - Prefect copies parameters; a tuple would show badly in the UI
    dispatch_key: Annotated[
        str | None,
        Field(description="Dispatch at most once per key; default: this flow run + number."),
    ] = None,
    redial_after_seconds: Annotated[
        float, Field(gt=0, description=REDIAL_AFTER_HELP)
    ] = DEFAULT_REDIAL_AFTER_SECONDS,
    redial_unconfirmed: Annotated[bool, Field(description=REDIAL_HELP)] = True,
) -> Call:
    """Place one outbound call and return it as it ended (or as dispatched, without ``wait``).

    A retry of the same flow run adopts the call it already placed instead of dialling again.
    The final state message says the outcome: "completed", "no answer", "voicemail", ...
    Each parameter's description is shown in the run form.

    Returns:
        The call as it ended (or as dispatched, with ``wait=False``).

    Raises:
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
    credentials = await resolve_credentials(credentials_block)  # once per run, for both tasks
    call = await create_call(
        credentials,
        connection_code,
        phone_number,
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
            await acreate_markdown_artifact(call_summary_markdown(call, "still open"))
            raise
        except CallLost:
            await acreate_markdown_artifact(call_summary_markdown(call, "lost"))
            raise
    outcome = describe_outcome(call) if wait else "dispatched"
    await acreate_markdown_artifact(
        call_summary_markdown(call, outcome), description=md_literal(outcome)
    )
    failing = {normalize_status(f) for f in fail_on}
    if wait and failing & {call.normalized_status, normalize_status(call.ended_reason)}:
        raise CallOutcomeFailure(f"call {call.id} ended: {outcome}")
    return Completed(message=outcome, data=call)  # type: ignore[return-value]
