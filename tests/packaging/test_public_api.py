"""The public API: every name the package root lists resolves, every error is in one tree, and a
lazily loaded name whose extra is missing says which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

import casey_flows
from casey_flows import client
from casey_flows.exceptions import CaseyFlowsError

PACKAGES = ("casey_flows", "casey_flows.flows", "casey_flows.warehouse", "casey_flows.sandbox")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_every_name_in_all_resolves_in_a_fresh_interpreter() -> None:
    code = (
        "import importlib\n"
        f"for package in {PACKAGES!r}:\n"
        "    module = importlib.import_module(package)\n"
        "    for name in module.__all__:\n"
        "        assert getattr(module, name) is not None, (package, name)\n"
        "    assert sorted(dir(module)) == sorted(set(dir(module))), package\n"
        "print('ok')\n"
    )
    done = run(code)
    assert done.stdout.strip() == "ok", done.stderr[-3000:]


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    with pytest.raises(AttributeError, match="'casey_flows' has no attribute 'nope'"):
        casey_flows.nope  # noqa: B018


def test_every_error_the_library_raises_itself_derives_from_casey_flows_error() -> None:
    """Errors of the flow layer under CaseyFlowsError; the client's under CaseyError; both
    importable from the package root."""
    errors = [
        getattr(casey_flows, name)
        for name in casey_flows.__all__
        if isinstance(getattr(casey_flows, name), type)
        and issubclass(getattr(casey_flows, name), Exception)
    ]
    ours = [e for e in errors if e.__module__.startswith("casey_flows.exceptions")]
    api = [e for e in errors if e.__module__.startswith("casey_flows.client")]
    assert sorted(e.__name__ for e in errors) == sorted(e.__name__ for e in ours + api)
    assert all(issubclass(e, CaseyFlowsError) for e in ours)
    assert all(issubclass(e, client.CaseyError) for e in api)
    for name in ("LedgerUnavailable", "WarehouseConfigError", "SuppressionStale"):
        assert issubclass(getattr(casey_flows, name), CaseyFlowsError)


def test_the_error_module_holds_every_flow_error() -> None:
    """No CaseyFlowsError subclass is defined outside casey_flows.exceptions (one tree, one
    place), and each of them is exported from the package root."""
    import casey_flows.exceptions as exceptions

    defined = {
        name
        for name, value in vars(exceptions).items()
        if isinstance(value, type) and issubclass(value, CaseyFlowsError)
    }
    assert defined <= set(casey_flows.__all__)


@pytest.mark.parametrize(
    ("blocked", "package", "name", "extra"),
    [
        ("dlt", "casey_flows", "sync_calls", "warehouse"),
        ("dlt", "casey_flows.flows", "sync_calls", "warehouse"),
        ("dlt", "casey_flows.warehouse", "casey_source", "warehouse"),
        ("fastapi", "casey_flows.sandbox", "create_app", "sandbox"),
        ("uvicorn", "casey_flows.sandbox", "running_sandbox", "sandbox"),
    ],
)
def test_a_lazy_name_whose_extra_is_missing_names_the_extra(
    blocked: str, package: str, name: str, extra: str
) -> None:
    code = (
        "import importlib, sys\n"
        f"sys.modules[{blocked!r}] = None  # as if the extra were not installed\n"
        f"module = importlib.import_module({package!r})\n"
        "try:\n"
        f"    getattr(module, {name!r})\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    done = run(code)
    assert f"pip install 'casey-flows[{extra}]'" in done.stdout, done.stderr[-2000:]


def test_the_dlt_source_and_the_core_import_no_prefect() -> None:
    """The warehouse's dlt source runs in any dlt pipeline: it, the dispatch keys and the
    waiting logic it rests on load no Prefect (nor does the engine's core)."""
    code = (
        "import sys\n"
        "from casey_flows.warehouse import casey_source\n"
        "import casey_flows.core.dispatch, casey_flows.core.waiting, casey_flows.campaign.engine\n"
        "print(sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')))\n"
    )
    done = run(code)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
