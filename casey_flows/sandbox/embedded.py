"""Run the sandbox inside a test, a demo or a benchmark: in a background thread
(``running_sandbox``) or as a separate process (``start_sandbox_process``).

Both bind 127.0.0.1 (or the ``host`` asked for) on a free port and return only once the server
answers, so callers never race the start-up, and both stop cleanly (the SQLite mirror is flushed
on a clean stop). Off loopback the config must carry an admin token, API keys and TLS (or
``allow_plain_http``); the returned object's ``admin`` and ``verify`` know how to use them.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import uvicorn
from pydantic import SecretStr

from casey_flows.sandbox.app import create_app
from casey_flows.sandbox.config import ADMIN_TOKEN_ENV, SandboxConfig
from casey_flows.sandbox.gate import API_PREFIX

READY_MARKER = "SANDBOX_READY "


def make_server(config: SandboxConfig, http: str = "auto") -> uvicorn.Server:
    """The one uvicorn set-up (CLI and embedded runners): it binds exactly ``config.host``, the
    address ``create_app`` judged remote or not, and serves TLS when a certificate is set."""
    return uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            http=http,
            lifespan="on",
            access_log=False,
            ssl_certfile=config.tls_certfile,
            ssl_keyfile=config.tls_keyfile,
        )
    )


class AdminClient:
    """A tiny sync client for the ``/_sandbox`` admin routes.

    ``token`` is the admin token (sent as ``Authorization: Bearer``), needed when the sandbox
    has one, which it always has off loopback; ``verify`` is httpx's (an ``ssl.SSLContext``
    trusting a self-signed certificate, for instance).
    """

    def __init__(
        self,
        root_url: str,
        token: str | SecretStr | None = None,
        *,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        headers: dict[str, str] = {}
        if token is not None:
            secret = token.get_secret_value() if isinstance(token, SecretStr) else token
            headers["Authorization"] = f"Bearer {secret}"  # httpx masks it in reprs
        self._http = httpx.Client(
            base_url=root_url + "/_sandbox", timeout=10.0, headers=headers, verify=verify
        )

    def stats(self) -> dict[str, Any]:
        return self._ok(self._http.get("/stats"))

    def config(self) -> dict[str, Any]:
        """The start-up config as the sandbox shows it (secrets only as 'configured')."""
        return self._ok(self._http.get("/config"))

    def reset(self) -> None:
        self._ok(self._http.post("/reset"))

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace all fault settings; ``set_faults()`` switches every fault off."""
        return self._ok(self._http.put("/faults", json=faults))

    def faults(self) -> dict[str, Any]:
        return self._ok(self._http.get("/faults"))

    def set_list_lag(self, seconds: float) -> float:
        """Hide new calls from the call list for ``seconds`` of real time; 0 switches it off."""
        return float(self._ok(self._http.put("/list-lag", json={"seconds": seconds}))["seconds"])

    def list_lag(self) -> float:
        return float(self._ok(self._http.get("/list-lag"))["seconds"])

    def force_outcome(self, call_id: str, outcome: str = "completed") -> dict[str, Any]:
        return self._ok(self._http.post(f"/calls/{call_id}/complete", json={"outcome": outcome}))

    def add_field_definition(
        self, connection_code: str, field_id: str, values: list[Any]
    ) -> list[dict[str, Any]]:
        """Define a field that the connection's conversations ending from now on answer (one of
        ``values``, drawn uniformly); returns all the connection's definitions."""
        body = {"field_id": field_id, "values": values}
        path = f"/connections/{connection_code}/field-definitions"
        return cast("list[dict[str, Any]]", self._ok(self._http.post(path, json=body))["data"])

    def forget_conversation(self, conversation_id: str) -> None:
        """Make the conversation's routes answer 404; its call keeps the conversation_id."""
        self._ok(self._http.delete(f"/conversations/{conversation_id}"))

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        response.raise_for_status()
        return cast("dict[str, Any]", response.json())  # the admin API answers JSON objects


@dataclass
class EmbeddedSandbox:
    """Where a running sandbox answers and what to call it with."""

    root_url: str
    api_key: str = field(repr=False)
    call_out_connection: str | None
    other_connection: str | None
    config: SandboxConfig
    pid: int = field(default_factory=os.getpid)
    _stop: Any = field(default=None, repr=False)
    _admin: AdminClient | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    def calls_path(self, connection: str | None = None) -> str:
        """``/connections/{code}/calls`` relative to ``base_url`` (default: the call_out one)."""
        return f"/connections/{connection or self.call_out_connection}/calls"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an httpx client needs to trust this sandbox: its own certificate when it serves
        TLS (right for the self-signed certificates of tests), the system store otherwise."""
        if self.config.tls_certfile is None:
            return True
        return ssl.create_default_context(cafile=self.config.tls_certfile)

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.root_url, self.config.admin_token, verify=self.verify)
        return self._admin

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def clean(self) -> EmbeddedSandbox:
        """No calls (so no conversations), no stats, no faults, no added field definitions, the
        configured list lag: a fresh start for the next test, whatever the last one switched at
        run time (config is kept)."""
        self.admin.reset()
        self.admin.set_faults()
        self.admin.set_list_lag(self.config.list_lag_seconds)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()


def _config(config: SandboxConfig | None, overrides: dict[str, Any]) -> SandboxConfig:
    base = config or SandboxConfig()
    if not overrides:
        return base
    return SandboxConfig.model_validate({**base.model_dump(), **overrides})


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    http: str = "auto",
    **overrides: Any,
) -> Iterator[EmbeddedSandbox]:
    """Serve a sandbox from a background thread for the duration of the ``with`` block.

    ``overrides`` are SandboxConfig fields (``speed=1000, concurrency_cap=2, ...``); the port is
    always a free one and the host 127.0.0.1 unless ``host`` says otherwise (a config's own
    host is ignored, so a config file cannot silently take a test off loopback).
    """
    cfg = _config(config, {**overrides, "host": host, "port": 0})
    server = make_server(cfg, http)
    # No signal handlers to switch off: uvicorn (0.29 on) installs them from the main thread only.
    thread = threading.Thread(target=server.run, name="casey-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("sandbox failed to start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    sandbox = EmbeddedSandbox(
        root_url=cfg.root_url(port),
        api_key=cfg.display_api_key,
        call_out_connection=cfg.call_out_connection,
        other_connection=cfg.other_connection,
        config=cfg,
        _stop=stop,
    )
    try:
        yield sandbox
    finally:
        sandbox.stop()


def _child_config(argv: list[str], env: dict[str, str]) -> SandboxConfig:
    """What a child started with ``argv`` and ``env`` runs with, flags included, so ``clean()``
    restores a ``--list-lag-seconds`` given in ``extra_args`` rather than the file's value."""
    from casey_flows.sandbox.cli import config_from_argv  # cli imports this module

    return config_from_argv(argv, env)


def _child_env(cfg: SandboxConfig) -> dict[str, str]:
    """The child's environment, with the admin token exactly as configured: it travels in the
    environment (never argv or the config file) and a token exported in the parent's shell
    does not leak into a sandbox that was not given one."""
    env = os.environ.copy()
    env.pop(ADMIN_TOKEN_ENV, None)
    if cfg.admin_token is not None:
        env[ADMIN_TOKEN_ENV] = cfg.admin_token.get_secret_value()
    return env


def start_sandbox_process(
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    extra_args: list[str] | None = None,
    timeout_s: float = 30.0,
    log_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> EmbeddedSandbox:
    """Start ``python -m casey_flows.sandbox`` in its own process (port 0); wait until it is ready.

    The config travels as a JSON file, the admin token in the environment; call ``.stop()`` on
    the result (SIGTERM, then a wait). ``log_path`` collects everything the child prints
    (stdout and stderr), for tests of what the sandbox shows.
    """
    import tempfile

    cfg = _config(config, {**overrides, "host": host, "port": 0})
    fd, path = tempfile.mkstemp(prefix="sandbox-config-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(cfg.model_dump_json(exclude={"admin_token"}))
    argv = ["--config", path, "--port", "0", *(extra_args or [])]
    cmd = [sys.executable, "-m", "casey_flows.sandbox", *argv]
    env = _child_env(cfg)
    sink = open(log_path, "a", buffering=1) if log_path is not None else None  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sink, text=True, bufsize=1, env=env)
    assert proc.stdout is not None
    stdout = proc.stdout

    def keep(line: str) -> None:
        if sink is not None:
            sink.write(line)

    info: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            break
        keep(line)
        if line.startswith(READY_MARKER):
            info = json.loads(line[len(READY_MARKER) :])
            break

    # Keep draining stdout so the child never blocks on a full pipe.
    def drain_stdout() -> None:
        for line in stdout:
            keep(line)

    drain = threading.Thread(target=drain_stdout, daemon=True)
    drain.start()

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        drain.join(timeout=5)
        if sink is not None:
            sink.close()
        if os.path.exists(path):
            os.unlink(path)

    if info is None:
        proc.kill()
        stop()
        raise RuntimeError("sandbox process failed to start")

    return EmbeddedSandbox(
        root_url=info["root_url"],
        api_key=info["api_key"],
        call_out_connection=info["call_out_connection"],
        other_connection=info["other_connection"],
        config=_child_config(argv, env),
        pid=proc.pid,
        _stop=stop,
    )
