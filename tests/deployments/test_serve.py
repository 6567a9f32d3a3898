"""serve.py builds the same deployments prefect.yaml declares (one source of truth)."""

from __future__ import annotations

import yaml

from deployments.serve import build_deployments
from deployments.spec import PREFECT_YAML, load_project


def test_served_deployments_match_prefect_yaml() -> None:
    raw = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    served = {(d.flow_name, d.name): d for d in build_deployments()}
    assert len(served) == len(raw)
    for entry in raw:
        deployment = served[(entry["flow_name"], entry["name"])]
        assert deployment.parameters == entry.get("parameters", {})
        assert deployment.entrypoint == entry["entrypoint"].replace("/", ".").replace(".py:", ".")
        schedules = [
            (s.schedule.cron, s.schedule.timezone, s.active, s.parameters)
            for s in deployment.schedules or []
        ]
        assert schedules == [
            (s["cron"], s.get("timezone"), s.get("active", True), s.get("parameters", {}))
            for s in entry.get("schedules") or []
        ]
        limit = entry.get("concurrency_limit")
        if limit:
            assert deployment.concurrency_limit == limit["limit"]
            assert deployment.concurrency_options.collision_strategy == limit["collision_strategy"]
        else:
            assert deployment.concurrency_limit is None
        assert len(deployment.triggers) == len(entry.get("triggers", []))


def test_campaign_deployment_queues_overlapping_runs() -> None:
    spec = load_project().get("call-campaign/weekday-mornings")
    assert spec.concurrency_limit and spec.concurrency_limit.limit == 1
    assert {s.timezone for s in spec.schedules} == {"America/New_York", "Europe/Berlin"}
    assert all(s.parameters.get("contacts_file") for s in spec.schedules)


def test_warehouse_sync_runs_hourly_and_after_each_campaign_one_at_a_time() -> None:
    (served,) = build_deployments(["sync-calls/warehouse-sync"])
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in served.schedules] == [
        ("5 * * * *", "America/New_York", True)
    ]
    (trigger,) = served.triggers
    assert trigger.expect == {"casey.campaign.completed"}
    assert trigger.match.root == {"prefect.resource.id": "casey.campaign.*"}
    # The trigger syncs the connection the campaign ran on; the schedule, the fixed list.
    assert "casey-connection" in trigger.parameters["connection_codes"][0]
    assert served.parameters["connection_codes"] == ["demo-outbound"]
    assert served.concurrency_limit == 1
    assert served.concurrency_options.collision_strategy == "ENQUEUE"
