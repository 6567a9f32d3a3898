"""``casey-flows credentials save`` against a real Prefect server, and in Prefect's ephemeral
mode (no server configured), where a new user starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

from casey_flows.blocks import CaseyCredentials
from casey_flows.sandbox.embedded import EmbeddedSandbox

on_server = pytest.mark.usefixtures("prefect_server")


def save_with_env(
    *args: str, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``casey-flows credentials save ARGS`` in a subprocess with exactly this environment."""
    return subprocess.run(
        [sys.executable, "-m", "casey_flows.cli", "credentials", "save", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def run_cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command against the session's Prefect server."""
    server = {"PREFECT_API_URL": PREFECT_API_URL.value()}
    return save_with_env(*args, env={**os.environ, **server, **env}, stdin=stdin)


@on_server
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


@on_server
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


@on_server
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


LOAD_IN_EPHEMERAL_MODE = """
import os
from casey_flows.blocks import CaseyCredentials

block = CaseyCredentials.load("first-step")
print(block.base_url, block.api_key.get_secret_value() == os.environ["CASEY_API_KEY"])
"""


def test_save_without_a_server_is_clean_and_found_later(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    """A new user's first command: no PREFECT_API_URL and a fresh PREFECT_HOME, so Prefect starts
    a temporary server on its local SQLite database (PrefectHQ/prefect#18934 printed tracebacks)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "CASEY_API_KEY": sandbox.api_key,
        "CASEY_BASE_URL": sandbox.base_url,
    }
    done = save_with_env("--name", "first-step", env=env)
    assert done.returncode == 0, done.stderr
    for noise in ("Traceback", "ERROR"):
        assert noise not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "no PREFECT_API_URL" in done.stdout

    # The user's own code, later, in the same ephemeral mode and home (Prefect's defaults).
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_IN_EPHEMERAL_MODE],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split()[-2:] == [sandbox.base_url, "True"]
