"""The benchmarks still run end to end (tiny N, short calls), so they cannot rot.

Only smoke tests: they check each report's shape and what it promises (every campaign contender
finished every call; a warehouse sync with nothing new read no conversation again), never the
speed (numbers from a loaded CI box mean nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(name: str, *args: str) -> dict:
    """Run ``benchmarks/<name>`` with ``args`` (never saving results); its JSON report."""
    script = str(ROOT / "benchmarks" / name)
    done = subprocess.run(
        [sys.executable, script, *args, "--no-save"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.timeout(120)
def test_campaign_benchmark_smoke() -> None:
    report = run_benchmark("campaign.py", "--n", "50", "--d", "0.5")
    assert set(report["results"]) == {"casey-flows", "naive-prefect", "bare"}
    for name, result in report["results"].items():
        assert result["ok"], (name, result)
        assert result["calls_terminal"] == 50
        assert result["duplicate_numbers"] == 0
        assert result["requests"]["create"] >= 50
        assert result["peak_rss_mb"] > 0
    assert report["results"]["casey-flows"]["detection_latency"]["count"] == 50
    assert report["machine"]["cpu_count"] >= 1


@pytest.mark.timeout(120)
def test_warehouse_sync_benchmark_smoke() -> None:
    report = run_benchmark("warehouse_sync.py", "--n", "50", "--m", "10")
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["dlt"]
    first, second, new = report["first_sync"], report["second_sync"], report["new_calls_sync"]
    for phase in (first, second, new):
        assert phase["seconds"] > 0 and phase["peak_rss_mb"] > 0 and phase["cpu_s"] >= 0
        assert set(phase["steps_s"]) >= {"extract", "normalize", "load"}
    assert first["rows_loaded"]["calls"] == 50
    connected = first["rows_loaded"]["conversations"]
    assert connected > 0
    for kind in ("get_conversation", "get_fields", "get_transcript"):
        assert first["requests"][kind] == connected
        assert second["requests"][kind] == 0  # nothing final is read twice
    assert first["requests"]["list_calls"] >= 1 and second["requests"]["list_calls"] >= 1
    assert second["requests"]["get_call"] == 0
    assert report["targets"]["second_sync_reads_nothing_final_again"]
    assert new["rows_loaded"]["calls"] == 10
    assert new["rows_in_warehouse"]["calls"] == 60


@pytest.mark.timeout(120)
def test_transport_benchmark_smoke() -> None:
    report = run_benchmark(
        "transport.py", "--requests", "20", "--rounds", "1", "--concurrency", "5"
    )
    kinds = {"get_sequential", "get_concurrent", "create_sequential", "list_page"}
    assert set(report["results"]) == kinds and set(report["ratios"]) == kinds
    for by_transport in report["results"].values():
        assert set(by_transport) == {"aiohttp", "httpx", "mock"}
        for result in by_transport.values():
            assert result["cpu_us_per_request"]["median"] > 0
            assert len(result["runs"]) == 1
    assert set(report["ratios"]["get_sequential"]) == {"httpx_over_aiohttp", "mock_over_aiohttp"}
    assert report["machine"]["cpu_count"] >= 1 and len(report["load_average"]["before"]) == 3


def test_flame_summary_charges_work_to_who_asked_for_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "thread (1): MainThread;run (asyncio/base_events.py:1);"
        "AsyncCaseyClient._send (casey_flows/client/client.py:1);"
        "AsyncClient.send (httpx/_client.py:1);write (asyncio/selector_events.py:1) 6\n"
        "thread (1): MainThread;emit (prefect/events/worker.py:1);"
        "AsyncClient.send (httpx/_client.py:1) 3\n"
        "thread (1): MainThread;_run_once (asyncio/base_events.py:1) 1\n"
        "thread (1): MainThread;<module> (x.py:1);<module> (prefect/__init__.py:1) 5\n"
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "flame_summary.py"), str(raw)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)
    shares = {row["what"]: row["pct"] for row in report["top"]}
    assert shares == {
        "Casey client: HTTP stack": 60.0,
        "Prefect: events": 30.0,
        "asyncio event loop": 10.0,
    }
    assert report["imports_excluded"] == 5
