"""Run the sandbox inside a test, a demo or a benchmark: in a background thread
(``running_sandbox``) or as a separate process (``start_sandbox_process``).

Both bind 127.0.0.1 on a free port and return only once the server answers, so callers never
race the start-up, and both stop cleanly (the SQLite mirror is flushed on a clean stop).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from casey_flows.sandbox.app import create_app
from casey_flows.sandbox.config import SandboxConfig
from casey_flows.sandbox.gate import API_PREFIX

READY_MARKER = "SANDBOX_READY "


class AdminClient:
    """A tiny sync client for the ``/_sandbox`` admin routes."""

    def __init__(self, root_url: str) -> None:
        self._http = httpx.Client(base_url=root_url + "/_sandbox", timeout=10.0)

    def stats(self) -> dict[str, Any]:
        return self._ok(self._http.get("/stats"))

    def reset(self) -> None:
        self._ok(self._http.post("/reset"))

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace all fault settings; ``set_faults()`` switches every fault off."""
        return self._ok(self._http.put("/faults", json=faults))

    def faults(self) -> dict[str, Any]:
        return self._ok(self._http.get("/faults"))

    def set_list_lag(self, seconds: float) -> float:
        """Hide new calls from the call list for ``seconds`` of real time; 0 switches it off."""
        return self._ok(self._http.put("/list-lag", json={"seconds": seconds}))["seconds"]

    def list_lag(self) -> float:
        return self._ok(self._http.get("/list-lag"))["seconds"]

    def force_outcome(self, call_id: str, outcome: str = "completed") -> dict[str, Any]:
        return self._ok(self._http.post(f"/calls/{call_id}/complete", json={"outcome": outcome}))

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()


@dataclass
class EmbeddedSandbox:
    """Where a running sandbox answers and what to call it with."""

    root_url: str
    api_key: str
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
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.root_url)
        return self._admin

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def clean(self) -> EmbeddedSandbox:
        """No calls, no stats, no faults, the configured list lag: a fresh start for the next
        test, whatever the last one switched at run time (config is kept)."""
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
    config: SandboxConfig | None = None, *, http: str = "auto", **overrides: Any
) -> Iterator[EmbeddedSandbox]:
    """Serve a sandbox from a background thread for the duration of the ``with`` block.

    ``overrides`` are SandboxConfig fields (``speed=1000, concurrency_cap=2, ...``); host and port
    are always 127.0.0.1 and a free port.
    """
    cfg = _config(config, {**overrides, "host": "127.0.0.1", "port": 0})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(cfg),
            host="127.0.0.1",
            port=0,
            log_level=cfg.log_level,
            http=http,
            lifespan="on",
            access_log=False,
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
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
        root_url=f"http://127.0.0.1:{port}",
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


def _child_config(argv: list[str]) -> SandboxConfig:
    """What a child started with ``argv`` runs with, flags included, so ``clean()`` restores
    a ``--list-lag-seconds`` given in ``extra_args`` rather than the file's value."""
    from casey_flows.sandbox.cli import config_from_argv  # cli imports this module

    return config_from_argv(argv)


def start_sandbox_process(
    config: SandboxConfig | None = None,
    *,
    extra_args: list[str] | None = None,
    timeout_s: float = 30.0,
    **overrides: Any,
) -> EmbeddedSandbox:
    """Start ``python -m casey_flows.sandbox`` in its own process (port 0); wait until it is ready.

    The config travels as a JSON file; call ``.stop()`` on the result (SIGTERM, then a wait).
    """
    import tempfile

    cfg = _config(config, {**overrides, "host": "127.0.0.1", "port": 0})
    fd, path = tempfile.mkstemp(prefix="sandbox-config-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(cfg.model_dump_json())
    argv = ["--config", path, "--port", "0", *(extra_args or [])]
    cmd = [sys.executable, "-m", "casey_flows.sandbox", *argv]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1, env=os.environ.copy()
    )
    info: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(READY_MARKER):
            info = json.loads(line[len(READY_MARKER) :])
            break
    if info is None:
        proc.kill()
        proc.wait()
        os.unlink(path)
        raise RuntimeError("sandbox process failed to start")
    # Keep draining stdout so the child never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if os.path.exists(path):
            os.unlink(path)

    return EmbeddedSandbox(
        root_url=info["root_url"],
        api_key=info["api_key"],
        call_out_connection=info["call_out_connection"],
        other_connection=info["other_connection"],
        config=_child_config(argv),
        pid=proc.pid,
        _stop=stop,
    )
