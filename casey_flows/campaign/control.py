"""Who may dial a campaign, and how a crashed run's campaign is resumed.

**The lease.** One live dialler per campaign: a Prefect global concurrency limit of 1 named
after the campaign, held for the whole dialling phase with a short lease (60 s, renewed while the
run lives). A second run of the same campaign waits for it, then refuses; a run whose process
died gives the lease back when it expires (about 60-75 s), not before, because a run marked
Crashed by the missing-heartbeat automation may still be alive and dialling.

**Resuming.** A deployment trigger on ``prefect.flow-run.Crashed`` starts the deployment again
with ``resume.resume_of`` (the crashed run's id) and ``resume.resume_count``. The new run reads
everything else from the crashed run itself: its parameters (``max_resumes`` included), and the
campaign id it used (derived from *its* scheduled day when it had none), so it adopts what was
already dialled and dials the rest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.concurrency.asyncio import concurrency

from casey_flows.exceptions import CampaignBusy, ResumeLimitReached

# Prefect's minimum; the lease is renewed while the run lives, and expires this long after not.
LEASE_SECONDS = 60.0
_SAFE_NAME = re.compile(r"[^a-z0-9._-]+")


def campaign_id_for(scheduled: datetime | None, deployment_name: str | None, run_id: str) -> str:
    """Same deployment + same scheduled day = same campaign, so a re-run adopts its calls."""
    base = f"{deployment_name}-{scheduled:%Y-%m-%d}" if deployment_name and scheduled else ""
    return re.sub(r"[^a-z0-9-]+", "-", (base or f"run-{run_id}").lower()).strip("-")


def lease_name(campaign_id: str) -> str:
    """The global concurrency limit that stands for the campaign (readable, and unique)."""
    readable = _SAFE_NAME.sub("-", campaign_id.lower()).strip("-")[:60]
    digest = hashlib.sha256(campaign_id.encode()).hexdigest()[:8]
    return f"casey-campaign-{readable}-{digest}"


@asynccontextmanager
async def campaign_lease(campaign_id: str, wait_seconds: float) -> AsyncIterator[None]:
    """Hold the campaign's lease while dialling; wait up to ``wait_seconds`` for it.

    Raises:
        CampaignBusy: another run held it for all of ``wait_seconds``.
    """
    name = lease_name(campaign_id)
    async with get_client() as client:
        await client.upsert_global_concurrency_limit_by_name(name, 1)
    try:
        async with concurrency(
            name,
            occupy=1,
            lease_duration=LEASE_SECONDS,
            strict=True,  # no limit, no lease: never dial unguarded
            # A Prefect server restart loses its in-memory leases; the campaign goes on (the
            # slot stays taken until released by hand, so nobody else dials it meanwhile).
            raise_on_lease_renewal_failure=False,
            timeout_seconds=wait_seconds,
        ):
            yield
    except TimeoutError:
        raise CampaignBusy(
            f"campaign {campaign_id!r} is being dialled by another run (its lease {name!r} "
            f"was held for all of {wait_seconds:g} s); this run dialled nobody. A run that died "
            f"gives the lease back within about {LEASE_SECONDS + 15:g} s"
        ) from None


async def release_campaign_lease(campaign_id: str) -> None:
    """Free a campaign's lease by hand: only when no run of the campaign is alive.

    For Prefect's ephemeral mode, where no server service takes back the lease of a process
    that was killed (a Prefect server does so within about 75 s by itself).
    """
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    async with get_client() as client:
        await client.update_global_concurrency_limit(
            lease_name(campaign_id), GlobalConcurrencyLimitUpdate(active_slots=0)
        )


def check_resume_limit(resume_of: str, resume_count: int, max_resumes: int) -> None:
    """Refuse a resume past ``max_resumes``: a run that keeps crashing needs a person.

    Raises:
        ResumeLimitReached: ``resume_count`` is past ``max_resumes``.
    """
    if resume_count > max_resumes:
        raise ResumeLimitReached(
            f"run {resume_of} crashed and was already resumed {max_resumes} time(s) "
            f"(resume.max_resumes); not resuming again: look at why it crashes, then re-run it "
            f"by hand with the same campaign_id"
        )


async def crashed_run_parameters(resume_of: str) -> dict[str, Any]:
    """The crashed run's own parameters, as stored, with its campaign id made explicit."""
    async with get_client() as client:
        crashed = await client.read_flow_run(UUID(resume_of))
        deployment_name = None
        if crashed.deployment_id is not None:
            deployment_name = (await client.read_deployment(crashed.deployment_id)).name
    parameters = dict(crashed.parameters)
    if not parameters.get("campaign_id"):
        scheduled = crashed.expected_start_time or crashed.start_time
        parameters["campaign_id"] = campaign_id_for(scheduled, deployment_name, str(crashed.id))
    return parameters
