"""The public flows that dial or load deploy the ways Prefect users deploy them, and their runs,
started through the API, end Completed against the sandbox (the read-only ones: see PUBLIC_FLOWS):

- served: ``flow.serve(name=...)`` in its own process, as in Prefect's quickstart. The runner
  hands each run the flow cloudpickled, where deferred annotations used to fail parameter
  validation (see casey_flows/flows/__init__.py);
- deployed: ``flow.deploy()`` with a module-path entrypoint into the installed package, to a
  process work pool, run by ``prefect worker start``.

One Prefect stack for the module. The serving processes and the worker run in an empty
directory, so the flows can only come from the installed package; ``sync_calls`` loads the
stack's own DuckDB file (``CASEY_FLOWS_WAREHOUSE_DIR`` in every process it starts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.deployments.runner import EntrypointType
from prefect.workers.process import ProcessWorker

from casey_flows.blocks import CaseyCredentials
from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.flows import call_campaign, place_call, sync_calls
from casey_flows.sandbox.embedded import EmbeddedSandbox
from deployments.local_services import Service
from tests.deployments.fast_runs import campaign_parameters
from tests.deployments.stack import PrefectStack, prefect_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# The flows that dial or load (each served flow is a process and a run on 2 cores: CI time).
# call_report and campaign_status only read the call list: their pickled copies validating
# their parameters (tests/flows/test_flows_pickle.py) is the part of this that can break.
PUBLIC_FLOWS: tuple[Flow, ...] = (place_call, call_campaign, sync_calls)
SERVED, DEPLOYED = "served", "deployed"
POOL = "public-flows"
COMPLETES = "+13125550100"


async def set_up(sandbox: EmbeddedSandbox) -> None:
    """Pool, block and deployments from Python, as a user's ``flow.deploy()`` script does it (the
    CLI route is test_e2e.py's; Python here spares two Prefect start-ups on a 2-core box)."""
    async with get_client() as client:
        template = ProcessWorker.get_default_base_job_template()
        await client.create_work_pool(
            WorkPoolCreate(name=POOL, type="process", base_job_template=template)
        )
    credentials = CaseyCredentials(api_key=sandbox.api_key, base_url=sandbox.base_url)
    await credentials.asave(DEFAULT_BLOCK_NAME, overwrite=True)
    for flow in PUBLIC_FLOWS:
        await flow.adeploy(
            name=DEPLOYED,
            work_pool_name=POOL,
            entrypoint_type=EntrypointType.MODULE_PATH,
            print_next_steps=False,
            ignore_warnings=True,
        )


async def wait_until_served(stack: PrefectStack, served: dict[str, Service]) -> None:
    for name, service in served.items():
        await stack.wait_for_deployment(f"{name}/{SERVED}", service)


@pytest.fixture(scope="module")
def stack(
    sandbox: EmbeddedSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectStack]:
    """A server, each public flow served (one process each) and deployed, and a worker; the
    session's sandbox cleaned (no faults left by earlier tests)."""
    sandbox.clean()
    project = tmp_path_factory.mktemp("user-project")
    with prefect_stack(tmp_path_factory.mktemp("prefect")) as stack:
        served = {f.name: stack.serve_flow(f, SERVED, cwd=project) for f in PUBLIC_FLOWS}
        with stack.client_settings():
            asyncio.run(set_up(sandbox))
            stack.start_worker("public-flows", POOL, cwd=project)
            asyncio.run(wait_until_served(stack, served))
        yield stack


def parameters(sandbox: EmbeddedSandbox, deployment: str) -> dict[str, dict]:
    """Per flow name: a run that ends in a second or two."""
    connection = sandbox.call_out_connection
    return {
        place_call.name: {"phone_number": COMPLETES, "connection_code": connection},
        call_campaign.name: campaign_parameters(sandbox, f"public-{deployment}", [COMPLETES]),
        sync_calls.name: {"connection_codes": [connection], "list_lag_seconds": 1},
    }


def run_each_public_flow(
    stack: PrefectStack, deployment: str, sandbox: EmbeddedSandbox
) -> dict[str, FlowRun]:
    """Start one run of ``<flow>/<deployment>`` per public flow through the API, all at once,
    and return them once final."""
    by_flow = parameters(sandbox, deployment)

    async def run_all() -> list[FlowRun]:
        runs = (
            arun_deployment(
                f"{name}/{deployment}",
                parameters=params,
                timeout=90,
                poll_interval=0.5,
                as_subflow=False,
            )
            for name, params in by_flow.items()
        )
        return list(await asyncio.gather(*runs))

    with stack.client_settings():
        return dict(zip(by_flow, asyncio.run(run_all()), strict=True))


def assert_all_completed(stack: PrefectStack, runs: dict[str, FlowRun]) -> None:
    ended = {name: (run.state.name, run.state.message) for name, run in runs.items()}
    assert all(run.state.is_completed() for run in runs.values()), f"{ended}\n{stack.logs()}"
    assert ended[place_call.name] == ("Completed", "completed")


def test_each_public_flow_served_with_flow_serve_runs_to_completed(
    stack: PrefectStack, sandbox: EmbeddedSandbox
) -> None:
    assert_all_completed(stack, run_each_public_flow(stack, SERVED, sandbox))


def test_each_public_flow_deployed_by_module_path_to_a_process_pool_runs_to_completed(
    stack: PrefectStack, sandbox: EmbeddedSandbox
) -> None:
    async def entrypoints() -> dict[str, str | None]:
        async with get_client() as client:
            return {
                f.name: (await client.read_deployment_by_name(f"{f.name}/{DEPLOYED}")).entrypoint
                for f in PUBLIC_FLOWS
            }

    with stack.client_settings():
        assert asyncio.run(entrypoints()) == {
            f.name: f"{f.fn.__module__}.{f.fn.__name__}" for f in PUBLIC_FLOWS
        }
    assert_all_completed(stack, run_each_public_flow(stack, DEPLOYED, sandbox))
