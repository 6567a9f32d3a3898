"""Background services for the demo: start a process detached, with a pid file and a log file,
find it again on the next run, and stop it. Standard library only, so ``make down`` works even
when the virtualenv is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path(__file__).resolve().parent.parent / ".casey-flows"


@dataclass(frozen=True)
class Service:
    """A named background process whose pid, port and log live under ``state_dir``."""

    name: str
    state_dir: Path = STATE_DIR

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def port_file(self) -> Path:
        return self.state_dir / f"{self.name}.port"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The recorded pid if that process is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def start(
        self, argv: list[str], port: int, env: dict[str, str], cwd: Path | None = None
    ) -> int:
        """Start ``argv`` in its own session (it outlives us), output appended to the log."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self.port_file.write_text(f"{port}\n")
        return proc.pid

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM the recorded process group, then SIGKILL; True if something was running."""
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
        for path in (self.pid_file, self.port_file):
            path.unlink(missing_ok=True)
        return pid is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is one.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens there. SO_REUSEADDR as the servers use it: TIME_WAIT leftovers of a
    just-stopped server do not count as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens there, else any free port."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers HTTP 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_answers(url: str, timeout: float, service: Service | None = None) -> None:
    """Poll ``url`` until it answers; fail early (pointing at the log) if the process died."""
    deadline = time.monotonic() + timeout
    while not answers(url):
        if service is not None and service.pid() is None:
            raise RuntimeError(f"{service.name} exited during start-up; see {service.log_file}")
        if time.monotonic() > deadline:
            where = f"; see {service.log_file}" if service else ""
            raise TimeoutError(f"{url} did not answer within {timeout:g} s{where}")
        time.sleep(0.25)
