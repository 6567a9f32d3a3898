"""``casey-flows credentials save``: create the credentials block without the UI.

The key comes from ``CASEY_API_KEY``, or from stdin with ``--api-key-stdin`` (never a flag: flags
end up in shell history and process lists), and is never echoed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pydantic import ValidationError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("credentials", help="manage the Casey credentials block")
    actions = parser.add_subparsers(dest="credentials_action", required=True)
    save = actions.add_parser(
        "save",
        help="save a CaseyCredentials block from CASEY_API_KEY / CASEY_BASE_URL",
        description=(
            "Save (or overwrite) a CaseyCredentials block. The key is read from CASEY_API_KEY, "
            "or from standard input with --api-key-stdin; the base URL from --base-url or "
            "CASEY_BASE_URL, else the real API."
        ),
    )
    save.add_argument("--name", default=None, help="block name (default: casey)")
    save.add_argument("--base-url", default=None, help="API base URL (default: CASEY_BASE_URL)")
    save.add_argument(
        "--api-key-stdin", action="store_true", help="read the API key from standard input"
    )
    save.set_defaults(func=run_save)


def _read_key(args: argparse.Namespace) -> str:
    if args.api_key_stdin:
        return sys.stdin.readline().strip()
    return os.environ.get("CASEY_API_KEY", "").strip()


def _quiet_temporary_server() -> str | None:
    """Without PREFECT_API_URL, keep Prefect's telemetry out of the temporary server that
    ``save`` starts; return the Prefect home whose database that server uses (None with a server).

    In that ephemeral mode Prefect runs a server on its local SQLite database for this one command.
    Its telemetry heartbeat writes to that database at start-up and, when it loses the race with
    the save, logs "database is locked" tracebacks (PrefectHQ/prefect#18934); offline, it logs
    "Failed to send telemetry". The block is saved either way. PREFECT_SERVER_ANALYTICS_ENABLED is
    Prefect's own switch; set here, it reaches only this command's temporary server (a value the
    user exported wins).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    if PREFECT_API_URL.value():
        return None
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return str(PREFECT_HOME.value())


def run_save(args: argparse.Namespace) -> int:
    from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME, CaseyCredentials
    from casey_flows.client import DEFAULT_BASE_URL

    key = _read_key(args)
    if not key:
        print(
            "error: no API key: set CASEY_API_KEY or pipe it with --api-key-stdin",
            file=sys.stderr,
        )
        return 2
    base_url = args.base_url or os.environ.get("CASEY_BASE_URL") or DEFAULT_BASE_URL
    name = args.name or DEFAULT_BLOCK_NAME
    try:
        block = CaseyCredentials(api_key=key, base_url=base_url)
    except ValidationError as exc:
        for error in exc.errors(include_input=False):
            field = ".".join(str(p) for p in error["loc"])
            print(f"error: {field}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    local_home = _quiet_temporary_server()
    block.save(name, overwrite=True)
    print(f"saved CaseyCredentials block {name!r} for {block.base_url}")
    if local_home is not None:
        print(
            f"(no PREFECT_API_URL: saved in Prefect's local database under {local_home}, "
            "where flows run without a Prefect server will find it)"
        )
    return 0
