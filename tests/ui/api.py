"""The Prefect REST API as the browser tests check it: run ids come from API answers, states are
polled here (never read off the page), and the run form's expectations come from the
deployment's stored parameter schema.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

FINAL_STATES = {"Completed", "Failed", "Crashed", "Cancelled"}
RETRY_STATUSES = {429, 502, 503}
RETRIES = 5


class PrefectApi:
    """A small sync client for one server's ``/api``."""

    def __init__(self, api_url: str) -> None:
        self._http = httpx.Client(base_url=api_url, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    def _ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; a 503 (the server's "retry me", e.g. SQLite busy on a loaded
        machine), 502 or 429 is retried a few times, as Prefect's own client does."""
        for attempt in range(RETRIES + 1):
            response = self._http.request(method, path, **kwargs)
            if response.status_code not in RETRY_STATUSES or attempt == RETRIES:
                break
            time.sleep(min(0.5 * 2**attempt, 4.0))
        status = f"{response.status_code} {response.text}"
        assert response.is_success, f"{method} {response.request.url}: {status}"
        return response.json()

    def deployment(self, name: str) -> dict[str, Any]:
        """``flow/deployment``, with its ``parameter_openapi_schema``."""
        return self._ok("GET", f"/deployments/name/{name}")

    def create_flow_run(self, deployment_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
        path = f"/deployments/{deployment_id}/create_flow_run"
        return self._ok("POST", path, json={"parameters": parameters})

    def flow_run(self, run_id: str) -> dict[str, Any]:
        return self._ok("GET", f"/flow_runs/{run_id}")

    def wait_for_state(
        self, run_id: str, names: set[str] = FINAL_STATES, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll until the run's state name is one of ``names``; the run then."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.flow_run(run_id)
            state = run.get("state") or {}
            if state.get("name") in names:
                return run
            assert time.monotonic() < deadline, (
                f"run {run_id} is {state.get('name')} ({state.get('message')}) after {timeout:g} s"
            )
            time.sleep(0.5)

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
        return self._ok("POST", "/artifacts/filter", json=body)

    def block_document(self, block_id: str, include_secrets: bool = False) -> dict[str, Any]:
        params = {"include_secrets": str(include_secrets).lower()}
        return self._ok("GET", f"/block_documents/{block_id}", params=params)


def resolved(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    """A property as the UI's form shows it: its ``$ref`` definition with the property's own
    keys on top (ui-v2 ``mergeSchemaPropertyDefinition``)."""
    ref = prop.get("$ref")
    if not ref:
        return prop
    definitions = schema.get("definitions") or schema.get("$defs") or {}
    definition = definitions[ref.rsplit("/", 1)[-1]]
    return {**definition, **{k: v for k, v in prop.items() if k != "$ref"}}


def top_level(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The run form's parameters in form order, each resolved."""
    props = schema["properties"]
    ordered = sorted(props.items(), key=lambda item: item[1].get("position", 0))
    return [(name, resolved(schema, prop)) for name, prop in ordered]


def sections(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Parameters that are groups of knobs (a model with properties of its own)."""
    return [(name, prop) for name, prop in top_level(schema) if prop.get("properties")]


def shown_description(prop: dict[str, Any]) -> str:
    """The help text as the form shows it (single line breaks joined, as the UI does)."""
    return re.sub(r"\n(?!\n)", " ", prop.get("description") or "")


def title_of(schema: dict[str, Any], name: str) -> str:
    """The label the form gives top-level parameter ``name`` (without "(Optional)")."""
    return resolved(schema, schema["properties"][name]).get("title") or name
