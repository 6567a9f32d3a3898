"""Where a profiled process's CPU went, by subsystem: a flame graph folded into a short table.

Reads py-spy's raw collapsed stacks (``benchmarks/campaign.py --profile DIR`` writes them, one
``thread (tid): name;frame;frame;... count`` line per distinct stack, on-CPU samples only) and
prints one JSON object: each category's share of the samples, largest first. Samples inside
imports are counted apart and left out of the shares (the benchmark's CPU per call excludes
imports too).

    .venv/bin/python benchmarks/flame_summary.py DIR/casey-flows.txt [--top 12]

Each sample is charged to the code that *asked* for the work: walking from the leaf towards the
root, the first frame of our own code or of Prefect decides the owner, and the first library
frame on the way (HTTP stack, pydantic) decides what kind of work it was. So httpx inside
Prefect's own API client counts as Prefect, and pydantic inside Prefect's event models counts
as Prefect too; only what the Casey client asked for counts as "Casey client".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^():]+)(?::\d+)?\)$")
HTTP_LIBS = (
    "httpx/",
    "httpcore/",
    "h11/",
    "anyio/",
    "sniffio/",
    "aiohttp/",
    "httpx_aiohttp/",
    "yarl/",
    "multidict/",
    "aiohappyeyeballs/",
    "propcache/",
)
PYDANTIC = ("pydantic/", "pydantic_core/")
PREFECT_AREAS = (
    ("prefect/events/", "events"),
    ("prefect/logging/", "logging"),
    ("prefect/task_engine", "task engine"),
    ("prefect/tasks", "task engine"),
    ("prefect/flow_engine", "flow engine"),
    ("prefect/client/", "API client"),
    ("prefect/_internal/concurrency/", "worker threads and services"),
    ("prefect/states", "states and results"),
    ("prefect/results", "states and results"),
    ("prefect/artifacts", "artifacts"),
    ("prefect/utilities/collections", "parameters (walk, validate, serialize)"),
    ("prefect/_internal/pydantic/validated_func", "parameters (walk, validate, serialize)"),
    ("prefect/flows.py", "parameters (walk, validate, serialize)"),
    ("prefect/context", "context and settings"),
    ("prefect/settings/", "context and settings"),
    ("prefect/", "other"),
)
OUR_OWNERS = (
    ("casey_flows/client/", "Casey client"),
    ("casey_flows/campaign/", "campaign engine"),
    ("casey_flows/", "casey_flows flows, tasks, logs"),
)


def split_stack(line: str) -> tuple[str, list[str], int]:
    """``(thread name, frames root first, samples)`` of one collapsed line."""
    stack, _, count = line.rstrip("\n").rpartition(" ")
    parts = stack.split(";")
    thread = parts[0].split(": ", 1)[-1] if parts[0].startswith("thread (") else "?"
    frames = parts[1:] if parts[0].startswith("thread (") else parts
    return thread, frames, int(count)


def frame_path(frame: str) -> str:
    match = FRAME.match(frame)
    return match.group("path") if match else frame


def owner_of(path: str) -> str | None:
    for prefix, name in OUR_OWNERS:
        if prefix in path:
            return name
    if "prefect/" in path:
        area = next(area for prefix, area in PREFECT_AREAS if prefix in path)
        return f"Prefect: {area}"
    return None


def kind_of(path: str) -> str | None:
    if any(lib in path for lib in HTTP_LIBS):
        return "HTTP stack"
    if any(lib in path for lib in PYDANTIC):
        return "pydantic"
    return None


def _parsing(frames: list[str]) -> bool:
    """Whether the Casey client frame at the end of ``frames`` runs inside response parsing:
    its own model validators, called by pydantic-core from a ``_parse`` helper (pydantic-core
    itself has no Python frame, so ``model_validate`` shows as the helper's own time)."""
    for frame in reversed(frames):
        path = frame_path(frame)
        if "_parse" in frame.split(" (")[0] or any(lib in path for lib in PYDANTIC):
            return True
        if "casey_flows/client/" not in path:
            return False
    return False


def categorize(thread: str, frames: list[str]) -> str:
    """The category of one stack (see the module docstring)."""
    if not frames:
        return "unattributed (stack not read)"
    if any(f.startswith(("<module> ", "_find_and_load ")) for f in frames[1:]):
        return "imports"
    kind: str | None = None
    asyncio_seen = False
    for depth, frame in enumerate(reversed(frames)):
        path = frame_path(frame)
        owner = owner_of(path)
        if owner is not None:
            if owner.startswith("Prefect"):
                return owner
            if kind is None and owner == "Casey client" and _parsing(frames[: len(frames) - depth]):
                kind = "pydantic"
            return f"{owner}: {kind}" if kind else f"{owner}: own code and stdlib"
        kind = kind or kind_of(path)
        asyncio_seen = asyncio_seen or path.startswith(("asyncio/", "selectors.py"))
    # No owner frame: a loop callback (protocol data_received, timers), or a stack cut short.
    if thread != "MainThread":
        return f"other threads ({thread}): {kind or 'stdlib'}"
    if kind == "HTTP stack":
        return "Casey client: HTTP stack (loop callbacks)"
    if kind:
        return f"main thread, no owner: {kind}"
    return "asyncio event loop" if asyncio_seen else "main thread, no owner: stdlib"


def summarize(path: Path, top: int) -> dict[str, Any]:
    by_category: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        thread, frames, count = split_stack(line)
        by_category[categorize(thread, frames)] += count
        by_thread[thread] += count
    imports = by_category.pop("imports", 0)
    total = sum(by_category.values()) or 1
    groups: Counter[str] = Counter()
    for name, count in by_category.items():
        groups[name.split(":")[0].split(" (")[0]] += count

    def share(counter: Counter[str], limit: int | None = None) -> list[dict[str, Any]]:
        return [
            {"what": name, "samples": n, "pct": round(100 * n / total, 1)}
            for name, n in counter.most_common(limit)
        ]

    return {
        "file": str(path),
        "samples": total,
        "imports_excluded": imports,
        "groups": share(groups),
        "top": share(by_category, top),
        "threads": share(by_thread),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(json.dumps(summarize(args.raw, args.top), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
