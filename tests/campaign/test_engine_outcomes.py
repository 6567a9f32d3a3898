"""The engine hands each final outcome over once (EngineHooks.on_outcome), as it happens and
after a stop: what the outcomes CSV is written from."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.engine import CampaignEngine, EngineHooks, EngineSettings, Track
from casey_flows.campaign.outcome_log import OutcomeLog
from casey_flows.client import AsyncCaseyClient
from casey_flows.sandbox.embedded import EmbeddedSandbox
from tests.campaign.engine_runner import ANY_TIME, FAST_POLL, run_engine


def phone(n: int) -> str:
    return f"+1202{2_000_000 + n:07d}"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_engine_hands_each_final_outcome_over_once_while_it_runs(
    clean_sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "live.csv"
    log = OutcomeLog(path, full_numbers=True, flush_seconds=0)
    on_disk: list[int] = []

    def on_outcome(track: Track) -> None:
        assert track.outcome is not None
        log.add(track.outcome)
        on_disk.append(len(rows(path)))  # the row is in the file before the engine ends

    phones = [phone(n) for n in range(6)]
    tracks = run_engine(
        clean_sandbox,
        [Contact(phone_number=p) for p in phones],
        campaign_id="hand-over",
        hooks=EngineHooks(on_outcome=on_outcome),
    )
    log.close()
    assert on_disk == [1, 2, 3, 4, 5, 6]
    assert all(t.handed_over for t in tracks)
    assert sorted(r["phone_number"] for r in rows(path)) == phones
    assert log.total == 6


def test_a_stopped_engine_still_hands_every_contact_over_once(
    clean_sandbox: EmbeddedSandbox,
) -> None:
    handed: list[Track] = []
    phones = [phone(n) for n in range(20)]

    async def scenario() -> None:
        async with AsyncCaseyClient(clean_sandbox.api_key, base_url=clean_sandbox.base_url) as c:
            engine = CampaignEngine(
                c,
                EngineSettings(
                    campaign_id="stopped-hand-over",
                    connection_code=clean_sandbox.call_out_connection,
                    window=ANY_TIME,
                    max_concurrent_calls=2,
                    cancel_grace_seconds=0.3,
                    poll=FAST_POLL,
                ),
                hooks=EngineHooks(on_outcome=handed.append),
            )
            read: list[str] = []

            def contacts() -> Iterator[Contact]:
                for number in phones:
                    read.append(number)
                    yield Contact(phone_number=number)

            running = asyncio.create_task(engine.run(contacts()))
            await asyncio.sleep(1.0)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            # Each contact read has its outcome, once; the ones never read are the caller's.
            assert sorted(t.contact.phone_number for t in handed) == sorted(read)
            assert len(read) < len(phones)

    asyncio.run(scenario())
    assert all(t.handed_over and t.outcome is not None for t in handed)
    assert any(t.outcome and t.outcome.outcome == "not_dialled" for t in handed)
