"""Schemathesis against the sandbox's own ``/openapi.json``, over real HTTP.

Faults are off, so any 5xx is a bug; every response must match the documented status codes,
content type and schema. A small budget per operation keeps CI fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casey_flows.client import CaseyClient
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox

pytestmark = pytest.mark.reliability

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_sandbox() -> Iterator[EmbeddedSandbox]:
    """No faults, no rate limit: only real behaviour is under test."""
    with running_sandbox(seed=1, speed=1000, rate_limit_per_s=0, concurrency_cap=0) as sb:
        yield sb


def test_sandbox_answers_every_generated_request_as_documented(
    fuzzed_sandbox: EmbeddedSandbox,
) -> None:
    """Every documented operation, positive and negative inputs, real HTTP.

    (Schemathesis's pytest plugin does not run under pytest 9 here, so the operations'
    hypothesis strategies are driven directly.)
    """
    schema = schemathesis.openapi.from_url(fuzzed_sandbox.root_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    with CaseyClient(fuzzed_sandbox.api_key, base_url=fuzzed_sandbox.base_url) as client:
        call_id = client.create_call(fuzzed_sandbox.call_out_connection, "+13035550777").id
    # an ended conversation, so the conversation routes are fuzzed past their 404
    conversation_id = fuzzed_sandbox.admin.force_outcome(call_id, "completed")["data"][
        "conversation_id"
    ]
    assert len(operations) >= 4, [op.label for op in operations]

    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode), known=st.booleans())
        @settings(
            max_examples=50,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case, known: bool) -> None:
            # Random codes and ids only ever reach the 404 branch; aim half the cases at a real
            # connection and call so bodies and queries reach validation and the handlers.
            params = case.path_parameters or {}
            if known and "code" in params:
                params["code"] = fuzzed_sandbox.call_out_connection
            if known and "call_id" in params:
                params["call_id"] = call_id
            if known and "conversation_id" in params:
                params["conversation_id"] = conversation_id
            case.call_and_validate(
                base_url=fuzzed_sandbox.root_url, headers=fuzzed_sandbox.headers, checks=CHECKS
            )

        fuzz()
    stats = fuzzed_sandbox.admin.stats()
    creates = stats["requests"].get("POST /v1/backend/connections/{code}/calls", {})
    assert creates.get("201") and creates.get("400"), f"bodies must reach validation: {creates}"
    fields = stats["requests"].get("GET /v1/backend/conversations/{conversation_id}/fields", {})
    assert fields.get("200"), f"conversation routes must be reached: {fields}"
    assert stats["requests_total"] >= 4 * 10, "the fuzzer must really have sent requests"
    assert not any(
        status.startswith("5") for codes in stats["requests"].values() for status in codes
    ), stats["requests"]
