"""The warehouse is an extra: the rest of the library imports and runs without dlt, and asking for
the warehouse without it says which extra to install."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_DLT = """
import sys
sys.modules["dlt"] = None  # as if the warehouse extra were not installed
import casey_flows
from casey_flows import call_campaign, place_call
from casey_flows.warehouse import WarehouseOptOuts  # a campaign parameter type: no dlt needed
WarehouseOptOuts()
try:
    casey_flows.sync_calls
except ModuleNotFoundError as exc:
    print(exc)
"""


def test_without_dlt_only_the_warehouse_is_missing_and_it_says_how_to_get_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DLT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pip install 'casey-flows[warehouse]'" in done.stdout


def test_importing_the_campaign_flow_does_not_import_dlt() -> None:
    code = "import sys, casey_flows.flows.campaign; print('dlt' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr[-2000:]


WITHOUT_PREFECT_SQLALCHEMY = """
import asyncio, sys
sys.modules["prefect_sqlalchemy"] = None  # as if the sql extra were not installed
from casey_flows import ContactsQuery, ContactSourceError, call_campaign
from casey_flows.campaign.query_block import load_database_block
try:
    asyncio.run(load_database_block("sqlalchemy-connector/crm"))
except ContactSourceError as exc:
    print(exc)
"""


def test_without_prefect_sqlalchemy_a_query_block_says_which_extra_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PREFECT_SQLALCHEMY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pip install 'casey-flows[sql]'" in done.stdout


def test_importing_the_campaign_flow_does_not_import_a_database_connector() -> None:
    code = "import sys, casey_flows.flows.campaign; print('prefect_sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
