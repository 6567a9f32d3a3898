"""The command line: flags build the config, register() mounts the subcommand, the process
runner starts a real ``python -m casey_flows.sandbox``."""

from __future__ import annotations

import argparse

import httpx

from casey_flows.sandbox import cli
from casey_flows.sandbox.embedded import start_sandbox_process


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_build_the_config(tmp_path):
    file = tmp_path / "c.json"
    file.write_text('{"seed": 3, "speed": 5, "faults": {"rate_429": 0.2}}')
    args = _parse(
        [
            "--config",
            str(file),
            "--speed",
            "100",
            "--concurrency-cap",
            "0",
            "--rate-limit",
            "7",
            "--fault-5xx-rate",
            "0.1",
            "--fault-latency-ms",
            "10,20",
            "--fault-ambiguous-drop-rate",
            "0.05",
            "--api-key",
            "sk_test_a",
            "--api-key",
            "sk_test_b",
            "--db",
            "x.db",
        ]
    )
    config = cli.build_config(args)
    assert config.seed == 3 and config.speed == 100  # flag beats file, file beats default
    assert config.effective_concurrency_cap is None
    assert config.rate_limit_per_s == 7
    assert config.faults.rate_429 == 0.2 and config.faults.error_5xx_rate == 0.1
    assert config.faults.latency_ms == (10.0, 20.0)
    assert config.faults.ambiguous_drop_rate == 0.05
    assert config.api_keys == ["sk_test_a", "sk_test_b"]
    assert config.db_path == "x.db"


def test_register_adds_the_subcommand():
    parser = argparse.ArgumentParser(prog="casey-flows")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["sandbox", "--port", "9999", "--seed", "4"])
    assert args.command == "sandbox" and args.port == 9999 and args.func is cli.run


def test_refuses_non_loopback_without_allow_remote(capsys):
    assert cli.main(["--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_bad_config_is_a_clear_error(capsys):
    assert cli.main(["--fault-5xx-rate", "3"]) == 2
    assert "invalid configuration" in capsys.readouterr().err


def test_process_runner_serves_and_stops():
    sb = start_sandbox_process(speed=1000, rate_limit_per_s=0)
    try:
        assert sb.base_url.endswith("/v1/backend")
        assert sb.call_out_connection == "demo-outbound"
        resp = httpx.post(
            sb.base_url + sb.calls_path(), json={"phone_number": "+14155550100"}, headers=sb.headers
        )
        assert resp.status_code == 201
        assert sb.admin.stats()["creates_total"] == 1
    finally:
        sb.stop()
    try:
        httpx.get(sb.root_url + "/_sandbox/health", timeout=1)
        raise AssertionError("sandbox still answering after stop()")
    except httpx.TransportError:
        pass
