"""Importing a part of the library that needs an optional extra says which extra is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

# The top-level package each extra brings, and the extra that brings it.
EXTRA_OF = {"dlt": "warehouse", "duckdb": "warehouse", "fastapi": "sandbox", "uvicorn": "sandbox"}


def import_module(name: str) -> ModuleType:
    """``importlib.import_module``, with "pip install 'casey-flows[extra]'" when one is missing."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        extra = EXTRA_OF.get(missing)
        if extra is None:
            raise
        raise ModuleNotFoundError(
            f"{name} needs {missing!r}, from the {extra!r} extra: "
            f"pip install 'casey-flows[{extra}]'",
            name=missing,
        ) from exc
