"""A user's script in their own Prefect project, run by ``test_wheel.py`` with the fresh
virtualenv's python, from a directory that also holds the user's ``flows/``, ``blocks/``,
``casey/``, ``sandbox/`` and ``deployments/`` packages.

It uses the installed wheel the way the README does (public API from ``casey_flows``, the sandbox,
``place_call`` through a Prefect server) and prints one JSON line saying where each name came from,
so the test can tell a user package from one the wheel would have shadowed.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import sysconfig
from typing import Any

USER_PACKAGES = ("flows", "blocks", "casey", "sandbox", "deployments")


def user_markers() -> dict[str, str]:
    return {name: importlib.import_module(name).MARKER for name in USER_PACKAGES}


def place_one_call() -> dict[str, Any]:
    from prefect.testing.utilities import prefect_test_harness

    from casey_flows import CaseyCredentials, place_call
    from casey_flows.sandbox import running_sandbox

    with running_sandbox(speed=1000) as sandbox, prefect_test_harness(server_startup_timeout=60):
        CaseyCredentials(api_key=sandbox.api_key, base_url=sandbox.base_url).save(
            "casey", overwrite=True
        )
        state = asyncio.run(
            place_call(
                phone_number="+14155550100",
                connection_code=sandbox.call_out_connection,
                return_state=True,
            )
        )
        call = state.result()
        dialled = sandbox.admin.stats()["calls_by_phone"]
    return {"state": state.type.value, "status": call.status, "dialled": dialled}


def main() -> None:
    before = user_markers()
    from casey_flows import (  # noqa: F401 - the public API the README promises
        AsyncCaseyClient,
        CallingWindow,
        CampaignResult,
        CaseyClient,
        CaseyCredentials,
        ContactSourceError,
        ContactsQuery,
        call_campaign,
        call_report,
        create_call,
        get_call,
        list_calls,
        place_call,
        wait_for_call,
        wait_for_calls,
    )

    outcome = place_one_call()
    modules = ["casey_flows", "casey_flows.sandbox", "casey_flows.flows", "casey_flows.blocks"]
    report = {
        "markers_before": before,
        "markers_after": user_markers(),
        "user_files": {name: sys.modules[name].__file__ for name in USER_PACKAGES},
        "library_files": {name: sys.modules[name].__file__ for name in modules},
        "site_packages": sysconfig.get_paths()["purelib"],
        "call": outcome,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
