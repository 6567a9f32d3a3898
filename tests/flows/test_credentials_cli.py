"""``casey-flows credentials save`` against a real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL

from casey_flows.blocks import CaseyCredentials
from casey_flows.sandbox.embedded import EmbeddedSandbox

pytestmark = pytest.mark.usefixtures("prefect_server")


def run_cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casey_flows.cli", "credentials", "save", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **env},
    )


def test_save_from_environment(sandbox: EmbeddedSandbox) -> None:
    done = run_cli(
        "--name",
        "cli-env",
        env={"CASEY_API_KEY": sandbox.api_key, "CASEY_BASE_URL": sandbox.base_url},
    )
    assert done.returncode == 0, done.stderr
    assert sandbox.api_key not in done.stdout + done.stderr
    block = CaseyCredentials.load("cli-env")
    assert block.api_key.get_secret_value() == sandbox.api_key
    assert block.base_url == sandbox.base_url


def test_save_from_stdin_never_echoes(sandbox: EmbeddedSandbox) -> None:
    key = "sk_test_from_stdin_CANARY_42"
    done = run_cli(
        "--name",
        "cli-stdin",
        "--api-key-stdin",
        "--base-url",
        sandbox.base_url,
        env={"CASEY_API_KEY": ""},
        stdin=key + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert key not in done.stdout + done.stderr
    assert CaseyCredentials.load("cli-stdin").api_key.get_secret_value() == key


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"CASEY_API_KEY": ""}, "no API key"),
        (("--base-url", "http://example.com/v1"), {"CASEY_API_KEY": "sk_test_x"}, "not allowed"),
    ],
)
def test_save_refuses_clearly(args: tuple[str, ...], env: dict[str, str], message: str) -> None:
    done = run_cli("--name", "cli-bad", *args, env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
