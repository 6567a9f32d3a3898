"""Prefect's cap on a run's parameters, checked where our code creates runs: the check refuses
exactly what the real server refuses, with a message that says to pass a file."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from casey_flows.exceptions import ParametersTooLarge
from casey_flows.flows.params import PARAMETERS_MAX_BYTES, check_parameters_fit

pytestmark = pytest.mark.usefixtures("prefect_server")


@flow(name="parameters-cap-probe")
def probe(contacts: list[dict[str, str]]) -> None:
    """Never run: only its runs are created, to see what the server accepts."""


def contacts_of_size(size: int) -> dict[str, Any]:
    """{"contacts": [...]} whose compact JSON is ``size`` bytes (the server's measure)."""
    skeleton = {"contacts": [{"phone_number": "+12025550100", "name": ""}]}
    pad = size - len(json.dumps(skeleton, separators=(",", ":")))
    return {"contacts": [{"phone_number": "+12025550100", "name": "x" * pad}]}


def server_accepts(parameters: dict[str, Any]) -> bool:
    async def create() -> bool:
        async with get_client() as client:
            try:
                await client.create_flow_run(probe, parameters=parameters)
            except Exception as exc:  # the server's 422, as Prefect's client raises it
                assert "524,288" in str(exc) or "must be less than" in str(exc), exc
                return False
            return True

    return asyncio.run(create())


def test_the_check_refuses_what_the_server_refuses() -> None:
    big = contacts_of_size(PARAMETERS_MAX_BYTES + 1)
    small = contacts_of_size(PARAMETERS_MAX_BYTES)
    assert not server_accepts(big)
    assert server_accepts(small)
    check_parameters_fit(small)
    with pytest.raises(ParametersTooLarge, match="pass it as contacts_file"):
        check_parameters_fit(big, what="the follow-up campaign")
