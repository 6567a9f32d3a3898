"""Runs the campaign engine straight against the sandbox: no Prefect, so a test controls the
clock and the slot gate. Returns each contact's track, as the engine handed it over."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime

from casey_flows.campaign.calling_window import CallingWindow
from casey_flows.campaign.contacts import Contact
from casey_flows.campaign.engine import CampaignEngine, EngineHooks, EngineSettings, Track
from casey_flows.campaign.slots import SlotGate
from casey_flows.client import AsyncCaseyClient
from casey_flows.core.waiting import WaitPolicy
from casey_flows.sandbox.embedded import EmbeddedSandbox

ANY_TIME = CallingWindow(start="00:00", end="23:59:59", days=[0, 1, 2, 3, 4, 5, 6])
FAST_POLL = WaitPolicy(min_poll_seconds=0.1, max_poll_seconds=0.5)


def run_engine(
    sandbox: EmbeddedSandbox,
    contacts: Iterable[Contact],
    *,
    campaign_id: str,
    window: CallingWindow = ANY_TIME,
    clock: Callable[[], datetime] | None = None,
    gate: SlotGate | None = None,
    hooks: EngineHooks | None = None,
    connection_code: str | None = None,
    poll: WaitPolicy = FAST_POLL,
    **settings: object,
) -> list[Track]:
    handed: dict[str, Track] = {}
    given = hooks or EngineHooks()

    def collect(track: Track) -> None:
        handed[track.contact.phone_number] = track
        if given.on_outcome:
            given.on_outcome(track)

    async def scenario() -> list[Track]:
        async with AsyncCaseyClient(sandbox.api_key, base_url=sandbox.base_url) as client:
            engine = CampaignEngine(
                client,
                EngineSettings(
                    campaign_id=campaign_id,
                    connection_code=connection_code or sandbox.call_out_connection,
                    window=window,
                    poll=poll,
                    **settings,  # type: ignore[arg-type]
                ),
                gate=gate,
                hooks=dataclasses.replace(given, on_outcome=collect),
                clock=clock,
            )
            await engine.run(contacts)
            await engine.check_redialled()
        # Every contact's track (each was handed over exactly once), in the order given when
        # that was a list, else as handed over.
        if isinstance(contacts, list):
            return [handed[c.phone_number] for c in contacts]
        return list(handed.values())

    return asyncio.run(scenario())
