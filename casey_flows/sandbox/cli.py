"""``casey-flows sandbox`` / ``python -m casey_flows.sandbox``: the emulator from the command line.

``register(subparsers)`` lets the project CLI mount this as a subcommand; ``main(argv)`` is the
standalone entry point. Flags override a ``--config`` JSON file, which overrides the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
from typing import Any

import uvicorn

from casey_flows.sandbox.app import create_app
from casey_flows.sandbox.config import SandboxConfig
from casey_flows.sandbox.embedded import READY_MARKER
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
    add("--allow-remote", action="store_true", help="allow binding a non-loopback host")
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


def build_config(args: argparse.Namespace) -> SandboxConfig:
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
    }
    data.update({k: val for k, val in simple.items() if val is not None})
    if args.allow_remote:
        data["allow_remote"] = True
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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _serve(config: SandboxConfig, http: str) -> int:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            http=http,
            lifespan="on",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            return 1
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    shown_host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    root = f"http://{shown_host}:{port}"
    key = config.display_api_key
    print(f"Casey sandbox listening on {root}{API_PREFIX}")
    print(f"  API key:            {key}  (any sk_test_ key works unless --api-key is given)")
    print(f"  call_out connection: {config.call_out_connection}")
    print(f"  admin:              {root}/_sandbox/stats  (docs: {root}/docs)")
    if config.list_lag_seconds:
        print(f"  list lag:           {config.list_lag_seconds:g} s (new calls, list only)")
    info = {
        "root_url": root,
        "base_url": root + API_PREFIX,
        "api_key": key,
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
    if not config.allow_remote and not _is_loopback(config.host):
        print(
            f"sandbox: refusing to bind non-loopback host {config.host!r}; "
            "pass --allow-remote if you really mean it",
            file=sys.stderr,
        )
        return 2
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


def config_from_argv(argv: list[str]) -> SandboxConfig:
    """The config ``main(argv)`` runs with (for a parent that started it as a process)."""
    return build_config(_parser().parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    return run(_parser().parse_args(argv))
