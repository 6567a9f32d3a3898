"""What re-reading the do-not-call list costs during a campaign (``suppression.refresh_seconds``).

For each list size, one do-not-call file of that many numbers: the first read (a campaign's
start), a refresh (every ``refresh_seconds`` while it runs: the whole source again), and the
dial-time check (one lookup before each create). Baseline in the same run: parsing the same file
with ``SuppressionList.from_file`` alone, the part a refresh cannot avoid. No Prefect, no network.
Prints JSON.

    .venv/bin/python benchmarks/suppression_refresh.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.live_suppression import LiveSuppression
from casey_flows.campaign.suppression import SuppressionList

CHECKS = 100_000


def number(n: int) -> str:
    """The n-th of distinct valid US numbers (area code 202, exchanges from 200 up)."""
    return f"+1202{2_000_000 + n:07d}"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(size: int, directory: Path) -> dict[str, Any]:
    path = directory / f"dnc-{size}.txt"
    with path.open("w") as handle:
        handle.writelines(number(n) + "\n" for n in range(size))

    cpu, wall = cpu_seconds(), time.perf_counter()
    baseline = SuppressionList.from_file(path)
    parse = {"wall_s": time.perf_counter() - wall, "cpu_s": cpu_seconds() - cpu}
    assert len(baseline) == size
    del baseline  # the peak RSS below is the campaign's: the set it keeps, plus one read

    async def read() -> list[SuppressionList]:
        return [await asyncio.to_thread(SuppressionList.from_file, path)]

    live = LiveSuppression(read, refresh_seconds=300, max_stale_seconds=1800)
    reads = []
    for _ in range(2):  # the start, then one refresh
        cpu, wall = cpu_seconds(), time.perf_counter()
        await live.refresh()
        reads.append({"wall_s": time.perf_counter() - wall, "cpu_s": cpu_seconds() - cpu})
    assert len(live) == size

    probe = Contact(phone_number=number(size - 1))
    cpu = cpu_seconds()
    for _ in range(CHECKS):
        assert await live.before_dial(probe) is not None
    check_us = (cpu_seconds() - cpu) / CHECKS * 1e6
    return {
        "numbers": size,
        "parse_only": parse,
        "first_read": reads[0],
        "refresh": reads[1],
        "refresh_vs_parse": round(reads[1]["wall_s"] / parse["wall_s"], 2),
        "dial_time_check_cpu_us": round(check_us, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        results = [asyncio.run(measure(size, Path(directory))) for size in sorted(args.sizes)]
    report = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
