"""``casey-flows sandbox`` / ``python -m casey_flows.sandbox``: the emulator from the command line.

``register(subparsers)`` lets the project CLI mount this as a subcommand; ``main(argv)`` is the
standalone entry point. Flags override a ``--config`` JSON file, which overrides the defaults.
The admin token comes from the environment only: a flag's value would land in shell history and
in every process listing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from casey_flows.sandbox.admin_auth import ADMIN_TOKEN_HEADER
from casey_flows.sandbox.config import ADMIN_TOKEN_ENV, SandboxConfig
from casey_flows.sandbox.gate import API_PREFIX


def _latency(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        pair = (float(low), float(high or low))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected MIN,MAX in milliseconds, e.g. 20,200") from exc
    return pair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default=None, help="bind address (default 127.0.0.1)")
    add("--port", type=int, default=None, help="port (default 8765; 0 = any free port)")
    add(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback host (then an admin token, --api-key and TLS or "
        "--allow-plain-http are required too)",
    )
    add(
        "--admin-token-env",
        default=None,
        metavar="VAR",
        help=f"read the admin token from environment variable VAR (default: {ADMIN_TOKEN_ENV}, "
        "if set); /_sandbox/* then needs 'Authorization: Bearer <token>'",
    )
    add("--tls-cert", default=None, metavar="FILE", help="PEM certificate: serve https")
    add("--tls-key", default=None, metavar="FILE", help="PEM private key for --tls-cert")
    add(
        "--allow-plain-http",
        action="store_true",
        help="off loopback, serve plain http (a private network such as a container's only)",
    )
    add("--seed", type=int, default=None, help="RNG seed for outcomes and faults (default 0)")
    add("--speed", type=float, default=None, help="time compression; 100 = 60 s call in 0.6 s")
    add("--concurrency-cap", type=int, default=None, help="in-flight calls per connection; 0=off")
    add("--rate-limit", type=float, default=None, help="requests/s per API key; 0 = off")
    add("--rate-limit-burst", type=int, default=None, help="token bucket size")
    add(
        "--list-lag-seconds",
        type=float,
        default=None,
        metavar="N",
        help="new calls stay out of the call list for N real seconds (reads by id do not lag)",
    )
    add("--db", default=None, help="SQLite file to keep calls across restarts")
    add("--config", default=None, help="JSON file with SandboxConfig fields")
    add("--fault-5xx-rate", type=float, default=None)
    add("--fault-latency-ms", type=_latency, default=None, metavar="MIN,MAX")
    add("--fault-429-rate", type=float, default=None)
    add("--fault-ambiguous-5xx-rate", type=float, default=None)
    add("--fault-ambiguous-drop-rate", type=float, default=None)
    add("--fault-lost-create-rate", type=float, default=None)
    add("--api-key", action="append", default=None, help="accepted sk_test_ key (repeatable)")
    add("--http", choices=["auto", "h11", "httptools"], default="auto", help="uvicorn HTTP impl")
    add("--log-level", default=None)


def _admin_token(args: argparse.Namespace, env: Mapping[str, str]) -> str | None:
    """The token from the environment: ``--admin-token-env VAR`` must name a set variable; the
    default variable is optional (unset = no token)."""
    name = args.admin_token_env or ADMIN_TOKEN_ENV
    value = env.get(name, "")
    if args.admin_token_env and not value:
        raise ValueError(f"--admin-token-env {name}: environment variable {name} is not set")
    return value or None


def build_config(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> SandboxConfig:
    """Defaults < ``--config`` file < flags and the admin token from ``env`` (os.environ)."""
    data: dict[str, Any] = {}
    if args.config:
        with open(args.config) as handle:
            data = json.load(handle)
    simple = {
        "host": args.host,
        "port": args.port,
        "seed": args.seed,
        "speed": args.speed,
        "concurrency_cap": args.concurrency_cap,
        "rate_limit_per_s": args.rate_limit,
        "rate_limit_burst": args.rate_limit_burst,
        "list_lag_seconds": args.list_lag_seconds,
        "db_path": args.db,
        "api_keys": args.api_key,
        "log_level": args.log_level,
        "tls_certfile": args.tls_cert,
        "tls_keyfile": args.tls_key,
        "admin_token": _admin_token(args, os.environ if env is None else env),
    }
    data.update({k: val for k, val in simple.items() if val is not None})
    for switch in ("allow_remote", "allow_plain_http"):
        if getattr(args, switch):
            data[switch] = True
    faults = dict(data.get("faults") or {})
    fault_flags = {
        "error_5xx_rate": args.fault_5xx_rate,
        "latency_ms": args.fault_latency_ms,
        "rate_429": args.fault_429_rate,
        "ambiguous_5xx_rate": args.fault_ambiguous_5xx_rate,
        "ambiguous_drop_rate": args.fault_ambiguous_drop_rate,
        "lost_create_rate": args.fault_lost_create_rate,
    }
    faults.update({k: val for k, val in fault_flags.items() if val is not None})
    data["faults"] = faults
    return SandboxConfig.model_validate(data)


def _banner(config: SandboxConfig, root: str) -> None:
    """What a person needs to use the sandbox; secrets are named, never printed."""
    print(f"Casey sandbox listening on {root}{API_PREFIX}")
    if config.is_remote:
        print(f"  bound to:           {config.host} (off loopback: admin token and keys required)")
    keys = "only the --api-key keys" if config.api_keys else "any sk_test_ key works"
    print(f"  API key:            {config.display_api_key}  ({keys})")
    print(f"  call_out connection: {config.call_out_connection}")
    print(f"  admin:              {root}/_sandbox/stats  (docs: {root}/docs)")
    if config.admin_token is not None:
        print(f"  admin token:        required: send '{ADMIN_TOKEN_HEADER}'")
    if config.list_lag_seconds:
        print(f"  list lag:           {config.list_lag_seconds:g} s (new calls, list only)")


async def _serve(config: SandboxConfig, http: str) -> int:
    # Here, not at the top: `casey-flows --help` and the other subcommands load no web server.
    from casey_flows.sandbox.embedded import READY_MARKER, make_server

    server = make_server(config, http)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            return 1
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    root = config.root_url(port)
    _banner(config, root)
    info = {
        "root_url": root,
        "base_url": root + API_PREFIX,
        "api_key": config.display_api_key,
        "call_out_connection": config.call_out_connection,
        "other_connection": config.other_connection,
    }
    print(READY_MARKER + json.dumps(info), flush=True)
    await task
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except Exception as exc:  # a bad flag or config file: say so, no traceback
        print(f"sandbox: invalid configuration: {exc}", file=sys.stderr)
        return 2
    missing = config.missing_for_remote()
    if missing:
        lines = "".join(f"\n  - {item}" for item in missing)
        print(
            f"sandbox: refusing to bind non-loopback host {config.host!r} without:{lines}",
            file=sys.stderr,
        )
        return 2
    if config.is_remote and config.tls_certfile is None:
        print(
            "sandbox: warning: plain http off loopback (--allow-plain-http): API keys and the "
            "admin token cross the network in clear; keep it on a private network",
            file=sys.stderr,
        )
    return asyncio.run(_serve(config, args.http))


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local Casey API emulator",
        description="Run the local Casey API emulator (stateful calls, limits, faults).",
    )
    add_arguments(parser)
    parser.set_defaults(func=run, handler=run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m casey_flows.sandbox", description=__doc__)
    add_arguments(parser)
    return parser


def config_from_argv(argv: list[str], env: Mapping[str, str] | None = None) -> SandboxConfig:
    """The config ``main(argv)`` runs with in ``env`` (for a parent that started it as a
    process)."""
    return build_config(_parser().parse_args(argv), env)


def main(argv: list[str] | None = None) -> int:
    return run(_parser().parse_args(argv))
