"""The wheel as a data team installs it: one import package, in a fresh virtualenv, next to the
team's own ``flows/``, ``blocks/``, ``sandbox/`` ... packages, which it must never shadow.

The wheel is built from a clean copy of the tree (a stale ``build/`` would leak deleted files into
it) and installed into a new virtualenv with its dependencies resolved from the package index, as
``pip install casey-flows[sandbox]`` would: no editable install, no system site-packages, so a
dependency missing from ``pyproject.toml`` fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_SCRIPT = Path(__file__).with_name("user_script.py")
USER_PACKAGES = ("flows", "blocks", "casey", "sandbox", "deployments")
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def run(
    *cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, code: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run a command that must exit with ``code``; if not, fail the test showing its output."""
    done = subprocess.run(
        [str(part) for part in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == code, f"{cmd} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "casey-flows"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source)
    (built,) = dist.glob("casey_flows-*.whl")
    return built


def install(venv: Path, requirement: str) -> None:
    """This pip, run against the venv's interpreter: the venv gets only what the wheel needs."""
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", requirement)


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """A user's project: their own packages named like ours, and their script."""
    project = tmp_path / "project"
    for name in USER_PACKAGES:
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text(f'MARKER = "user {name}"\n')
    shutil.copy(USER_SCRIPT, project / "user_script.py")
    return project


def user_env(home: Path) -> dict[str, str]:
    """The environment minus anything pointing back at this checkout or this Prefect session."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**env, "PREFECT_HOME": str(home)}


def test_wheel_holds_casey_flows_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        top_level = archive.read(f"{dist_info}/top_level.txt").decode().split()
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert top_level == ["casey_flows"]
    assert {name.split("/")[0] for name in names} == {"casey_flows", dist_info}
    assert {"casey_flows/py.typed", "casey_flows/sandbox/README.md"} <= set(names)
    assert "casey_flows = casey_flows.blocks" in entry_points
    assert "casey-flows = casey_flows.cli:main" in entry_points


def test_installed_wheel_runs_next_to_the_users_packages(
    wheel: Path, user_project: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    install(venv, f"{wheel}[sandbox]")
    env = user_env(tmp_path / "prefect-home")

    out = run(venv / "bin" / "python", "user_script.py", cwd=user_project, env=env).stdout
    report = json.loads(out.strip().splitlines()[-1])

    expected = {name: f"user {name}" for name in USER_PACKAGES}
    assert report["markers_before"] == expected
    assert report["markers_after"] == expected
    for name, file in report["user_files"].items():
        assert Path(file).is_relative_to(user_project), name
    site_packages = Path(report["site_packages"])
    assert site_packages.is_relative_to(venv)
    for name, file in report["library_files"].items():
        assert Path(file).is_relative_to(site_packages), name
    assert report["call"] == {
        "state": "COMPLETED",
        "status": "completed",
        "dialled": {"+14155550100": 1},
    }

    help_text = run(venv / "bin" / "casey-flows", "--help", cwd=user_project, env=env).stdout
    assert "sandbox" in help_text and "credentials" in help_text
