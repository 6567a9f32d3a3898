"""The campaign benchmark still runs end to end (tiny N, short calls), so it cannot rot.

Only a smoke test: it checks the report's shape and that every contender finished every call,
never the speed (numbers from a loaded CI box mean nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(120)
def test_campaign_benchmark_smoke() -> None:
    script = str(ROOT / "benchmarks" / "campaign.py")
    done = subprocess.run(
        [sys.executable, script, "--n", "50", "--d", "0.5", "--no-save"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert set(report["results"]) == {"casey-flows", "naive-prefect", "bare"}
    for name, result in report["results"].items():
        assert result["ok"], (name, result)
        assert result["calls_terminal"] == 50
        assert result["duplicate_numbers"] == 0
        assert result["requests"]["create"] >= 50
        assert result["peak_rss_mb"] > 0
    assert report["results"]["casey-flows"]["detection_latency"]["count"] == 50
    assert report["machine"]["cpu_count"] >= 1
