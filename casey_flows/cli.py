"""The ``casey-flows`` command: one entry point, one subcommand per job.

Each subcommand registers itself from the package that owns it. The web server (uvicorn,
FastAPI) loads only when ``sandbox`` runs; Prefect loads with the credentials commands'
package (its block registers itself on import).
"""

from __future__ import annotations

import argparse

from casey_flows.blocks import cli as credentials_cli
from casey_flows.sandbox import cli as sandbox_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="casey-flows", description="Run Casey AI phone calls from Prefect pipelines."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    sandbox_cli.register(subparsers)
    credentials_cli.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
