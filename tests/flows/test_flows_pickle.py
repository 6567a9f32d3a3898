"""A served run receives its flow cloudpickled by value (``run_flow_in_subprocess``): the copy must
still validate its parameters. The fast check of what tests/deployments/test_public_flows_deploy.py
proves end to end.
"""

from __future__ import annotations

import cloudpickle
import pytest
from prefect import Flow

from casey_flows.flows import call_campaign, call_report, campaign_status, place_call, sync_calls
from flows.appointment_reminders import appointment_reminders

STAGED = {"location": "s3://bucket/casey-staged-contacts/x", "rows": 1, "sha256": "0" * 64}
CASES = [
    (place_call, {"phone_number": "+14155550100", "connection_code": "c"}),
    (call_campaign, {"connection_code": "c"}),
    (call_report, {"connection_code": "c"}),
    (campaign_status, {"campaign_id": "x", "connection_code": "c"}),
    (
        campaign_status,
        {"campaign_id": "x", "connection_code": "c", "contacts": [{"phone_number": "+1"}]},
    ),
    (sync_calls, {"connection_codes": ["c"]}),
    (
        call_campaign,
        {"connection_code": "c", "suppression": {"opt_outs_from": {"dataset_name": "d"}}},
    ),
    (call_campaign, {"connection_code": "c", "staged_contacts": STAGED}),
    (campaign_status, {"campaign_id": "x", "connection_code": "c", "staged_contacts": STAGED}),
    # This project's own pipeline follows the same rule.
    (appointment_reminders, {"appointments_file": "a.csv", "connection_code": "c"}),
]


@pytest.mark.parametrize(("flow", "parameters"), [pytest.param(*c, id=c[0].name) for c in CASES])
def test_a_pickled_copy_of_each_public_flow_validates_its_parameters(
    flow: Flow, parameters: dict
) -> None:
    copy = cloudpickle.loads(cloudpickle.dumps(flow))
    assert copy.fn.__globals__ is not flow.fn.__globals__, "pickled by reference: test is moot"
    assert type(copy) is type(flow)  # call_campaign's parameter cap check travels with it
    assert copy.validate_parameters(parameters) == flow.validate_parameters(parameters)
