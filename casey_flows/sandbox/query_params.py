"""Query parameters declared once: what /openapi.json says of each and how its route reads it.

A route passes its parameters to :func:`documented` for ``openapi_extra`` and reads each with
``.read(query)``, so the published schema and the check made cannot drift apart. Messages never
echo the raw value (a phone number can end up in any parameter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from casey_flows.client.phone import mask_phone
from casey_flows.sandbox.validation import FieldError

LIMIT_MIN, LIMIT_MAX, LIMIT_DEFAULT = 1, 100, 20


@dataclass(frozen=True)
class IntQuery:
    """An optional integer within bounds."""

    name: str
    description: str
    default: int
    minimum: int
    maximum: int | None = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "integer",
            "default": self.default,
            "minimum": self.minimum,
        }
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def read(self, query: Mapping[str, str]) -> tuple[int, FieldError | None]:
        raw = query.get(self.name)
        if raw is None:
            return self.default, None
        high = self.maximum
        bounds = f"between {self.minimum} and {high}" if high is not None else f">= {self.minimum}"
        try:
            value = int(raw)
        except ValueError:
            return self.default, FieldError(self.name, f"must be an integer {bounds}")
        if value < self.minimum or (high is not None and value > high):
            shown = str(value) if len(str(value)) <= 6 else mask_phone(str(value))
            return self.default, FieldError(self.name, f"must be an integer {bounds} (got {shown})")
        return value, None


@dataclass(frozen=True)
class TextQuery:
    """Optional text; when ``choices`` are given it must be one of them (exact match)."""

    name: str
    description: str
    choices: tuple[str, ...] | None = None

    def schema(self) -> dict[str, Any]:
        if self.choices is None:
            return {"type": "string"}
        return {"type": "string", "enum": list(self.choices)}

    def read(self, query: Mapping[str, str]) -> tuple[str | None, FieldError | None]:
        raw = query.get(self.name)
        if raw is None or self.choices is None or raw in self.choices:
            return raw, None
        return None, FieldError(self.name, f"must be one of {', '.join(self.choices)}")


@dataclass(frozen=True)
class BoolQuery:
    """An optional ``true`` / ``false`` (any case)."""

    name: str
    description: str
    default: bool

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean", "default": self.default}

    def read(self, query: Mapping[str, str]) -> tuple[bool, FieldError | None]:
        raw = query.get(self.name)
        if raw is None:
            return self.default, None
        value = {"true": True, "false": False}.get(raw.lower())
        if value is None:
            return self.default, FieldError(self.name, "must be true or false")
        return value, None


QueryParam = IntQuery | TextQuery | BoolQuery


def documented(*params: QueryParam) -> dict[str, Any]:
    """``openapi_extra`` for a route taking ``params``, all optional."""
    return {
        "parameters": [
            {
                "name": p.name,
                "in": "query",
                "required": False,
                "description": p.description,
                "schema": p.schema(),
            }
            for p in params
        ]
    }


# The paging parameters the listings share.
LIMIT = IntQuery("limit", "page size", LIMIT_DEFAULT, LIMIT_MIN, LIMIT_MAX)
AFTER = TextQuery("after", "cursor: the page after this item (next_cursor)")
BEFORE = TextQuery("before", "cursor: the page before this item (prev_cursor)")
