"""ProgressReporter: a progress artifact update per whole percent, at most once a min_interval."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from casey_flows.campaign import publish
from casey_flows.campaign.publish import ProgressReporter


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The values the reporter sends (no Prefect API needed)."""
    values: list[float] = []

    async def create(**_: object) -> object:
        return uuid4()

    async def update(_: object, *, progress: float) -> None:
        values.append(progress)

    monkeypatch.setattr(publish, "acreate_progress_artifact", create)
    monkeypatch.setattr(publish, "aupdate_progress_artifact", update)
    monkeypatch.setattr(publish, "emit_event", lambda **_: None)
    return values


def test_one_update_per_whole_percent_and_the_exact_final_value(sent: list[float]) -> None:
    async def campaign() -> None:
        progress = ProgressReporter("c1", min_interval=0)
        await progress.start()
        for finished in range(0, 10_001, 7):  # every poll reports; most move < 1 %
            progress.update(finished, 10_001)
            await asyncio.sleep(0)  # the update in flight finishes
        await progress.finish(10_001, 10_001)

    asyncio.run(campaign())
    assert len(sent) == 101
    assert [int(v) for v in sent[:-1]] == list(range(100)), "one per whole percent, in order"
    assert sent[-1] == 100.0


def test_updates_wait_for_min_interval(sent: list[float]) -> None:
    async def campaign() -> None:
        progress = ProgressReporter("c1", min_interval=0)
        await progress.start()
        progress.update(0, 100)
        await asyncio.sleep(0)
        progress.min_interval = 3600
        for finished in range(10, 101, 10):
            progress.update(finished, 100)
            await asyncio.sleep(0)
        await progress.finish(95, 100)

    asyncio.run(campaign())
    assert sent == [0.0, 95.0], "the first, then only the final value"
