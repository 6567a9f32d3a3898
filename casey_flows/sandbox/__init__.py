"""casey-flows sandbox: a local, stateful emulator of the Casey backend API.

Same wire format as the real API, plus a call lifecycle driven by one ticker, the conversations
of connected calls, provider limits (concurrent calls, request rate) and fault injection. Never
imports Prefect.

    from casey_flows.sandbox import running_sandbox
    with running_sandbox(speed=1000) as sb:
        ...  # sb.base_url, sb.api_key, sb.call_out_connection, sb.admin.stats()
"""

from typing import TYPE_CHECKING

from casey_flows._extras import lazy_attributes
from casey_flows.sandbox.config import FaultSettings, SandboxConfig
from casey_flows.sandbox.vocabulary import (
    MAGIC_ANSWERS,
    MAGIC_SUFFIXES,
    OUTCOMES,
    TERMINAL_STATUSES,
)

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from casey_flows.sandbox.app import create_app as create_app
    from casey_flows.sandbox.embedded import EmbeddedSandbox as EmbeddedSandbox
    from casey_flows.sandbox.embedded import running_sandbox as running_sandbox
    from casey_flows.sandbox.embedded import start_sandbox_process as start_sandbox_process

__all__ = [
    "MAGIC_ANSWERS",
    "MAGIC_SUFFIXES",
    "OUTCOMES",
    "TERMINAL_STATUSES",
    "EmbeddedSandbox",
    "FaultSettings",
    "SandboxConfig",
    "create_app",
    "running_sandbox",
    "start_sandbox_process",
]


# Lazy: importing the package loads no FastAPI/uvicorn (the ``sandbox`` extra).
__getattr__ = lazy_attributes(
    __name__,
    {
        "create_app": "casey_flows.sandbox.app",
        **dict.fromkeys(
            ("running_sandbox", "start_sandbox_process", "EmbeddedSandbox"),
            "casey_flows.sandbox.embedded",
        ),
    },
)
