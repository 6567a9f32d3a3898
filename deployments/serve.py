"""``python -m deployments.serve``: every deployment of ``prefect.yaml``, served from one process.

For a single machine with no work pool and no worker: the same names, parameters, schedules,
concurrency limits and triggers as ``prefect deploy``, because both read ``prefect.yaml``.
Runs execute in subprocesses of this one; stop it with Ctrl-C (schedules pause on shutdown).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from prefect import serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment

from deployments.spec import DeploymentSpec, load_project


def to_runner_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    """The served twin of one ``prefect.yaml`` deployment (imported by module path, so it runs
    from any working directory)."""
    return spec.flow.to_deployment(
        name=spec.name,
        description=spec.description,
        tags=spec.tags,
        parameters=spec.parameters,
        schedules=spec.prefect_schedules(),
        concurrency_limit=spec.prefect_concurrency(),
        triggers=spec.prefect_triggers(),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def build_deployments(names: list[str] | None = None) -> list[RunnerDeployment]:
    """All deployments, or those whose ``flow/deployment`` name is in ``names``."""
    project = load_project()
    specs = [project.get(n) for n in names] if names else project.deployments
    return [to_runner_deployment(spec) for spec in specs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deployments.serve", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help="flow/deployment names to serve (default: all in prefect.yaml)"
    )
    parser.add_argument("--limit", type=int, default=None, help="max concurrent runs")
    args = parser.parse_args(argv)
    # Served runs inherit this process's environment: the heartbeat the work pool sets in
    # prefect.yaml (for the missing-heartbeat automation), unless you set your own.
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")
    kwargs: dict[str, Any] = {"limit": args.limit} if args.limit else {}
    serve(*build_deployments(args.names), **kwargs)


if __name__ == "__main__":
    main()
