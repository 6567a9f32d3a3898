"""Read ``deployments/prefect.yaml`` into typed specs, so ``serve`` and ``prefect deploy`` share
one list of deployment names, parameters, schedules, limits and triggers.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.events import DeploymentTriggerTypes
from prefect.schedules import Schedule
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PREFECT_YAML = Path(__file__).with_name("prefect.yaml")
REPO_ROOT = PREFECT_YAML.parent.parent

_TRIGGERS: TypeAdapter[DeploymentTriggerTypes] = TypeAdapter(DeploymentTriggerTypes)


class ScheduleSpec(BaseModel):
    """One ``schedules:`` entry. Only cron is used in this project."""

    model_config = ConfigDict(extra="forbid")

    cron: str
    timezone: str | None = None
    active: bool = True
    slug: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)

    def to_schedule(self) -> Schedule:
        return Schedule(
            cron=self.cron,
            timezone=self.timezone,
            active=self.active,
            slug=self.slug,
            parameters=self.parameters,
        )


class LimitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int
    collision_strategy: str = "ENQUEUE"


class DeploymentSpec(BaseModel):
    """One entry of ``deployments:``, with the fields both ``deploy`` and ``serve`` use."""

    model_config = ConfigDict(extra="ignore")

    name: str
    flow_name: str
    entrypoint: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    concurrency_limit: LimitSpec | None = None
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    work_pool: dict[str, Any] = Field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """``flow-name/deployment-name``, as ``run_deployment`` and the CLI want it."""
        return f"{self.flow_name}/{self.name}"

    @property
    def module_path(self) -> str:
        """``module:attr`` for both entrypoint forms Prefect accepts: a file in this repository
        (``flows/appointment_reminders.py:appointment_reminders``) or a module path into an
        installed package (``casey_flows.flows.place_call.place_call``)."""
        if ":" in self.entrypoint:
            path, _, attr = self.entrypoint.partition(":")
            return path.removesuffix(".py").replace("/", ".") + ":" + attr
        module, _, attr = self.entrypoint.rpartition(".")
        return f"{module}:{attr}"

    @cached_property
    def flow(self) -> Flow[..., Any]:
        module, _, attr = self.module_path.partition(":")
        loaded = getattr(importlib.import_module(module), attr)
        if not isinstance(loaded, Flow):
            raise TypeError(f"{self.entrypoint} is not a Prefect flow")
        if loaded.name != self.flow_name:
            raise ValueError(
                f"{self.entrypoint} is flow {loaded.name!r}, prefect.yaml says {self.flow_name!r}"
            )
        return loaded

    def prefect_schedules(self) -> list[Schedule]:
        return [s.to_schedule() for s in self.schedules]

    def prefect_concurrency(self) -> ConcurrencyLimitConfig | None:
        if self.concurrency_limit is None:
            return None
        return ConcurrencyLimitConfig.model_validate(self.concurrency_limit.model_dump())

    def prefect_triggers(self) -> list[DeploymentTriggerTypes]:
        return [
            _TRIGGERS.validate_python({"name": f"{self.full_name}__automation_{i}", **spec})
            for i, spec in enumerate(self.triggers, start=1)
        ]


class ProjectSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    deployments: list[DeploymentSpec]

    @property
    def work_pools(self) -> set[str]:
        return {d.work_pool["name"] for d in self.deployments if d.work_pool.get("name")}

    def get(self, full_name: str) -> DeploymentSpec:
        for spec in self.deployments:
            if spec.full_name == full_name:
                return spec
        raise KeyError(f"no deployment {full_name!r} in {PREFECT_YAML.name}")


def load_project(path: Path = PREFECT_YAML) -> ProjectSpec:
    """The deployments declared in ``prefect.yaml`` (YAML anchors resolved)."""
    return ProjectSpec.model_validate(yaml.safe_load(path.read_text()))
