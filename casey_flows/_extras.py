"""Importing a part of the library that needs an optional extra says which extra is missing."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

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


def lazy_attributes(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module ``__getattr__``: each name in ``where`` imported from the module named
    there on first use (a missing extra named, as :func:`import_module` does) and kept on the
    package; any other name an ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
