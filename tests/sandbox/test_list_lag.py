"""List lag: the call list trails creates by N real seconds while reads by id stay immediate,
so the campaign's reconcile-by-list can be tested against an eventually consistent list."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from casey_flows.sandbox import cli
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox, start_sandbox_process
from casey_flows.sandbox.testing import wait_for, wait_for_terminal

LAG = 1.0
FAST = {"speed": 1000.0, "rate_limit_per_s": 0}  # a call ends in ms, well inside the lag


@pytest.fixture(scope="module")
def lagging_module() -> Iterator[EmbeddedSandbox]:
    """A sandbox configured with a list lag (the ``running_sandbox`` / config route)."""
    with running_sandbox(list_lag_seconds=LAG, **FAST) as sb:
        yield sb


@pytest.fixture
def lagging(lagging_module: EmbeddedSandbox) -> EmbeddedSandbox:
    return lagging_module.clean()


def _client(sb: EmbeddedSandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=10)


def _create(client: httpx.Client, sb: EmbeddedSandbox, suffix: str = "0100") -> str:
    resp = client.post(sb.calls_path(), json={"phone_number": f"+1415555{suffix}"})
    assert resp.status_code == 201
    return resp.json()["data"]["id"]


def _listed(client: httpx.Client, sb: EmbeddedSandbox, **params: object) -> list[str]:
    return [c["id"] for c in client.get(sb.calls_path(), params=params).json()["data"]]


def _hidden(sb: EmbeddedSandbox) -> int:
    return sb.admin.stats()["list_lag"]["hidden_by_connection"][sb.call_out_connection]


def test_a_new_call_is_read_by_id_at_once_but_listed_only_after_the_lag(lagging):
    with _client(lagging) as client:
        before = time.monotonic()
        call_id = _create(client, lagging)
        # the lifecycle runs at speed 1000; the lag is real time: the call ends, still unlisted
        final = wait_for_terminal(client, lagging.calls_path(), call_id)
        assert final["status"] == "completed"
        assert _listed(client, lagging) == []
        assert _listed(client, lagging, status="completed") == []
        stats = lagging.admin.stats()
        assert stats["list_lag"]["seconds"] == LAG and _hidden(lagging) == 1
        assert stats["calls_total"] == 1  # hidden from the list, not from the sandbox
        wait_for(lambda: _listed(client, lagging) == [call_id], timeout=LAG + 5, interval=0.05)
        assert time.monotonic() - before >= LAG
        assert _hidden(lagging) == 0
        assert "accepted_mono" not in client.get(lagging.calls_path()).json()["data"][0]


def test_offsets_and_status_filter_apply_to_listed_calls_only(lagging):
    with _client(lagging) as client:
        old = [_create(client, lagging, s) for s in ("0486", "0100", "0486")]
        wait_for(lambda: len(_listed(client, lagging)) == 3, timeout=LAG + 5, interval=0.05)
        new = [_create(client, lagging, s) for s in ("0486", "0486")]
        for call_id in new:
            wait_for_terminal(client, lagging.calls_path(), call_id)
        # still inside the lag: the list is the three old calls, newest first
        assert _listed(client, lagging) == old[::-1]
        assert _listed(client, lagging, offset=1) == [old[1], old[0]]
        assert _listed(client, lagging, limit=1) == [old[2]]
        assert _listed(client, lagging, status="busy") == [old[2], old[0]]
        assert _listed(client, lagging, status="busy", offset=1, limit=1) == [old[0]]
        assert _listed(client, lagging, offset=3) == []
        assert _hidden(lagging) == 2  # the checks above ran inside the lag
        wait_for(lambda: len(_listed(client, lagging)) == 5, timeout=LAG + 5, interval=0.05)
        assert _listed(client, lagging) == [*new[::-1], *old[::-1]]
        assert _listed(client, lagging, status="busy", offset=2) == [old[2], old[0]]


def test_admin_switch_changes_the_lag_at_run_time_and_back_to_zero(sb):
    assert sb.config.list_lag_seconds == 0 and sb.admin.list_lag() == 0
    with _client(sb) as client:
        listed_at_once = _create(client, sb)
        assert _listed(client, sb) == [listed_at_once]
        assert sb.admin.set_list_lag(60) == 60
        assert sb.admin.list_lag() == 60
        # the switch applies to calls already made too: a replica falling behind
        assert _listed(client, sb) == []
        call_id = _create(client, sb)
        assert client.get(f"{sb.calls_path()}/{call_id}").json()["data"]["id"] == call_id
        assert sb.admin.stats()["list_lag"] == {
            "seconds": 60,
            "hidden_by_connection": {sb.call_out_connection: 2, sb.other_connection: 0},
        }
        assert sb.admin.set_list_lag(0) == 0
        assert _listed(client, sb) == [call_id, listed_at_once]  # caught up, no waiting
    assert sb.admin.stats()["list_lag"]["seconds"] == 0


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "soon"}, {}, {"seconds": 1, "x": 2}])
def test_admin_switch_refuses_a_bad_lag(sb, body):
    resp = httpx.put(sb.root_url + "/_sandbox/list-lag", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "validation_error"
    assert sb.admin.list_lag() == 0


def test_reset_keeps_the_lag_and_clean_restores_the_configured_one(lagging):
    lagging.admin.set_list_lag(5)
    lagging.admin.reset()  # clears calls and stats; the lag is a setting, like the faults
    assert lagging.admin.list_lag() == 5
    lagging.clean()  # what the fixtures call between tests
    assert lagging.admin.list_lag() == LAG


def test_the_cli_flag_sets_the_lag():
    assert cli.config_from_argv(["--list-lag-seconds", "2.5"]).list_lag_seconds == 2.5
    assert cli.config_from_argv([]).list_lag_seconds == 0
    assert cli.main(["--list-lag-seconds", "-1"]) == 2  # refused before binding anything
    sb = start_sandbox_process(extra_args=["--list-lag-seconds", "0.5"], **FAST)
    try:
        assert sb.config.list_lag_seconds == 0.5  # so clean() restores the flag's lag
        assert sb.admin.list_lag() == 0.5
        with _client(sb) as client:
            before = time.monotonic()
            call_id = _create(client, sb)
            assert client.get(f"{sb.calls_path()}/{call_id}").status_code == 200
            assert _listed(client, sb) == []
            wait_for(lambda: _listed(client, sb) == [call_id], timeout=5.5, interval=0.05)
            assert time.monotonic() - before >= 0.5
    finally:
        sb.stop()


def test_a_call_restored_from_sqlite_is_listed_at_once(tmp_path):
    settings = {"db_path": str(tmp_path / "lag.db"), "list_lag_seconds": 60, **FAST}
    with running_sandbox(**settings) as sb, _client(sb) as client:
        restored = _create(client, sb)
        assert _listed(client, sb) == []
    with running_sandbox(**settings) as sb, _client(sb) as client:
        assert _listed(client, sb) == [restored]  # another process's clock means nothing here
        fresh = _create(client, sb)
        assert _listed(client, sb) == [restored]
        assert client.get(f"{sb.calls_path()}/{fresh}").status_code == 200
