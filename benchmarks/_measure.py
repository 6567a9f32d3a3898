"""Measuring helpers for ``benchmarks/campaign.py``: processes, CPU, memory, a Prefect server.

No psutil on purpose (it is not a dependency): everything is read from ``/proc`` or from
``os.wait4``, which hands back the exact rusage of one child, so each contender's peak RSS and
CPU seconds are its own and not mixed with the sandbox's or the Prefect server's.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ChildUsage:
    """What ``os.wait4`` says about one finished child process."""

    returncode: int
    cpu_s: float
    user_s: float
    system_s: float
    peak_rss_mb: float
    timed_out: bool


def run_child(cmd: list[str], env: dict[str, str], timeout_s: float) -> ChildUsage:
    """Run ``cmd`` and reap it with ``wait4`` so its rusage is its own (not all children's).

    The child's output goes to our stderr: our stdout carries nothing but the JSON report.
    """
    proc = subprocess.Popen(cmd, env=env, stdout=sys.stderr)
    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
        elif timed_out and time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
    return ChildUsage(
        returncode=proc.returncode,
        cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
        user_s=round(usage.ru_utime, 2),
        system_s=round(usage.ru_stime, 2),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        timed_out=timed_out,
    )


def tree_cpu_s(root_pid: int) -> float:
    """CPU seconds (user + system) of a live process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def machine_info() -> dict[str, Any]:
    """Where the numbers came from: they mean little without the box that produced them."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import prefect

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "mem_total_gb": mem_gb,
        "python": sys.version.split()[0],
        "prefect": prefect.__version__,
        "platform": platform.platform(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrefectServer:
    """A real ``prefect server start`` in its own process, with its own PREFECT_HOME."""

    proc: subprocess.Popen[bytes]
    api_url: str
    home: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_prefect_server(home: Path, timeout_s: float = 120.0) -> PrefectServer:
    """Start a Prefect server on loopback (SQLite under ``home``) and wait for /api/health.

    The UI and scheduler are off (nothing here needs them); the event persister stays on
    because detection latency is read back from the events the campaign flow emits.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    cmd = [
        str(Path(sys.executable).with_name("prefect")),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-ui",
        "--analytics-off",
        "--no-scheduler",
        "--no-late-runs",
    ]
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    api_url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited early; see {home / 'server.log'}")
        try:
            if httpx.get(api_url + "/health", timeout=2).status_code == 200:
                return PrefectServer(proc=proc, api_url=api_url, home=home)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("prefect server did not answer /api/health in time")


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
