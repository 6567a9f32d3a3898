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


def run_save(args: argparse.Namespace) -> int:
    from casey_flows.blocks.credentials import (
        DEFAULT_BASE_URL,
        DEFAULT_BLOCK_NAME,
        CaseyCredentials,
    )

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
    block.save(name, overwrite=True)
    print(f"saved CaseyCredentials block {name!r} for {block.base_url}")
    return 0
