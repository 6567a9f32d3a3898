"""Prefect's cap on a run's parameters, checked where our code creates runs: the check refuses
exactly what the real server refuses (its own setting, its own measure: compact JSON with
non-ASCII escaped), with a message that says to stage the contacts or pass a file."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_SERVER_API_MAX_PARAMETER_SIZE, temporary_settings

from casey_flows.exceptions import ParametersTooLarge
from casey_flows.flows.params import (
    PARAMETERS_MAX_BYTES,
    check_parameters_fit,
    max_parameter_bytes,
)

pytestmark = pytest.mark.usefixtures("prefect_server")


@flow(name="parameters-cap-probe")
def probe(contacts: list[dict[str, str]]) -> None:
    """Never run: only its runs are created, to see what the server accepts."""


def contacts_of_size(size: int, fill: str = "x") -> dict[str, Any]:
    """{"contacts": [...]} whose compact JSON is ``size`` bytes (the server's measure: a
    non-ASCII ``fill`` counts as its escape, ``\u00e9`` = 6 bytes)."""
    skeleton = {"contacts": [{"phone_number": "+12025550100", "name": ""}]}
    pad = size - len(json.dumps(skeleton, separators=(",", ":")))
    width = len(json.dumps(fill)) - 2
    name = fill * (pad // width) + "x" * (pad % width)
    return {"contacts": [{"phone_number": "+12025550100", "name": name}]}


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


@pytest.mark.parametrize("fill", ["x", "é"])
def test_the_check_refuses_what_the_server_refuses(fill: str) -> None:
    assert max_parameter_bytes() == PARAMETERS_MAX_BYTES  # the server's default setting
    big = contacts_of_size(PARAMETERS_MAX_BYTES + 1, fill)
    small = contacts_of_size(PARAMETERS_MAX_BYTES, fill)
    assert not server_accepts(big)
    assert server_accepts(small)
    check_parameters_fit(small)
    with pytest.raises(ParametersTooLarge, match="stage_contacts") as refused:
        check_parameters_fit(big, what="the follow-up campaign")
    assert f"{PARAMETERS_MAX_BYTES:,}" in str(refused.value)
    assert "+12025550100" not in str(refused.value)


def test_the_cap_is_read_from_prefects_setting() -> None:
    parameters = contacts_of_size(2049)
    with temporary_settings(updates={PREFECT_SERVER_API_MAX_PARAMETER_SIZE: 2048}):
        with pytest.raises(ParametersTooLarge, match="more than 2,048"):
            check_parameters_fit(parameters)
        check_parameters_fit(contacts_of_size(2048))
    with temporary_settings(updates={PREFECT_SERVER_API_MAX_PARAMETER_SIZE: 0}):  # off
        check_parameters_fit(contacts_of_size(PARAMETERS_MAX_BYTES * 2))
