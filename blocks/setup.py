"""``python -m blocks.setup``: register the block type and save the ``casey`` credentials.

Registers ``CaseyCredentials`` with the current Prefect server (it then shows in the UI's block
catalog, like ``prefect block register -m casey_flows``) and saves the document the deployments
of ``deployments/prefect.yaml`` read. The key comes from ``CASEY_API_KEY`` (never a flag); with
``--sandbox URL`` it is the sandbox's test key and base URL instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from casey_flows import CaseyCredentials
from casey_flows.blocks import DEFAULT_BLOCK_NAME
from casey_flows.client import DEFAULT_BASE_URL

SANDBOX_API_KEY = "sk_test_sandbox"


async def save_credentials(
    api_key: str, base_url: str = DEFAULT_BASE_URL, name: str = DEFAULT_BLOCK_NAME
) -> CaseyCredentials:
    """Register the block type and save (or overwrite) the credentials document ``name``."""
    await CaseyCredentials.register_type_and_schema()
    block = CaseyCredentials(api_key=api_key, base_url=base_url)
    await block.save(name, overwrite=True)
    return block


async def save_sandbox_credentials(
    sandbox_root: str, name: str = DEFAULT_BLOCK_NAME
) -> CaseyCredentials:
    """Credentials for a sandbox at ``sandbox_root`` (``http://127.0.0.1:PORT``)."""
    return await save_credentials(SANDBOX_API_KEY, sandbox_root + "/v1/backend", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blocks.setup", description=__doc__)
    parser.add_argument("--name", default=DEFAULT_BLOCK_NAME, help="block document name")
    parser.add_argument("--sandbox", metavar="URL", help="a sandbox's root URL instead of the API")
    args = parser.parse_args(argv)
    if args.sandbox:
        block = asyncio.run(save_sandbox_credentials(args.sandbox.rstrip("/"), args.name))
    else:
        key = os.environ.get("CASEY_API_KEY", "").strip()
        if not key:
            parser.error("set CASEY_API_KEY (or pass --sandbox URL)")
        base_url = os.environ.get("CASEY_BASE_URL") or DEFAULT_BASE_URL
        block = asyncio.run(save_credentials(key, base_url, args.name))
    print(f"saved Casey Credentials block {args.name!r} for {block.base_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
