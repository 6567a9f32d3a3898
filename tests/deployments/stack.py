"""A real Prefect stack for end-to-end tests: ``prefect server start``, workers and CLI calls as
subprocesses with their own PREFECT_HOME, all stopped (process groups) when the test ends.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from casey_flows.warehouse.destination import WAREHOUSE_DIR_ENV
from deployments.local_services import Service, free_port, wait_until_answers
from deployments.spec import REPO_ROOT

PREFECT = str(Path(sys.executable).with_name("prefect"))
CASEY_FLOWS = str(Path(sys.executable).with_name("casey-flows"))


class PrefectStack:
    """One Prefect server (SQLite in ``home``, or ``database_url``) plus named workers."""

    def __init__(self, home: Path, database_url: str | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.database_url = database_url
        self.services: list[Service] = []

    @property
    def env(self) -> dict[str, str]:
        """Environment for every subprocess: this server, this home, fast workers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_DATABASE_TIMEOUT="60",
            PREFECT_SERVER_LOGGING_LEVEL="WARNING",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_HEARTBEAT_SECONDS="5",
            PREFECT_RUNNER_POLL_FREQUENCY="1",
            PREFECT_LOGGING_TO_API_BATCH_INTERVAL="0.5",
        )
        # sync_calls runs (the warehouse-sync deployment and its trigger, served or on a
        # worker) load a DuckDB file here, never into the home directory.
        env[WAREHOUSE_DIR_ENV] = str(self.home / "warehouse")
        if self.database_url:
            env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = self.database_url
        return env

    def service(self, name: str) -> Service:
        service = Service(name, state_dir=self.home)
        self.services.append(service)
        return service

    def start_server(self, timeout: float = 120, extra_env: dict[str, str] | None = None) -> None:
        server = self.service("server")
        argv = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"} | (extra_env or {})
        server.start(argv, self.port, env)
        wait_until_answers(self.api_url + "/health", timeout, server)

    def start_worker(
        self, name: str, pool: str, limit: int | None = None, cwd: Path | None = None
    ) -> Service:
        worker = self.service(f"worker-{name}")
        argv = [PREFECT, "worker", "start", "--pool", pool, "--name", name, "--type", "process"]
        argv += ["--limit", str(limit)] if limit else []
        worker.start(argv, 0, self.env, cwd=cwd)
        return worker

    def serve_flow(self, flow: Flow, deployment: str, cwd: Path | None = None) -> Service:
        """``flow.serve(name=deployment)`` in its own process, as a user's script does it: the
        flow imported from the installed package, its runs handed over in memory."""
        module, name = flow.fn.__module__, flow.fn.__name__
        code = f"from {module} import {name}\n{name}.serve(name={deployment!r})"
        served = self.service(f"serve-{flow.name}-{deployment}")
        served.start([sys.executable, "-c", code], 0, self.env, cwd=cwd)
        return served

    async def wait_for_deployment(self, name: str, service: Service, timeout: float = 60) -> None:
        """Until ``flow/deployment`` is registered (a served flow registers once it started)."""
        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while True:
                try:
                    await client.read_deployment_by_name(name)
                    return
                except ObjectNotFound:
                    assert service.pid(), f"{service.name} exited:\n{self.logs()}"
                    assert time.monotonic() < deadline, f"{name} not registered:\n{self.logs()}"
                    await asyncio.sleep(0.5)

    @contextmanager
    def client_settings(self) -> Iterator[None]:
        """Prefect clients in this process (``get_client``, ``arun_deployment``) talk to us."""
        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            yield

    def run(self, *argv: str, timeout: float = 120, extra_env: dict[str, str] | None = None) -> str:
        """Run a CLI command from the repo root; its output, or AssertionError with it."""
        proc = subprocess.run(
            list(argv),
            cwd=REPO_ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{' '.join(argv[:4])} failed:\n{output[-3000:]}"
        return output

    def stop(self) -> None:
        """Workers and served flows together (each may still talk to the server while it shuts
        down), then the server."""
        clients = [s for s in self.services if s.name != "server"]
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda service: service.stop(timeout=10), clients))
        for service in self.services:
            if service not in clients:
                service.stop(timeout=10)

    def logs(self) -> str:
        """Every service's log, for failure messages."""
        parts = []
        for service in self.services:
            if service.log_file.exists():
                parts.append(f"--- {service.name} ---\n{service.log_file.read_text()[-4000:]}")
        return "\n".join(parts)


@contextmanager
def prefect_stack(
    home: Path, database_url: str | None = None, server_env: dict[str, str] | None = None
) -> Iterator[PrefectStack]:
    """A started server (``server_env``: settings for the server alone), stopped on exit."""
    stack = PrefectStack(home, database_url)
    try:
        stack.start_server(extra_env=server_env)
        yield stack
    finally:
        stack.stop()
