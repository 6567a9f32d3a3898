"""What a run form shows, read from the schema Prefect builds (and stores on a deployment)."""

from __future__ import annotations

from typing import Any


def undescribed(schema: dict[str, Any]) -> list[str]:
    """Every property, top-level or of a nested model's definition, that has no description:
    the run form would show it by its bare name."""
    missing = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    for model, definition in schema.get("definitions", {}).items():
        for name, prop in definition.get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{model}.{name}")
    return missing
