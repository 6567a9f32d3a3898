"""Reading a connection's calls newest first, back to a cutoff: one primitive for every reader.

The dispatch ledger, the watcher's list sweeps and the call report all page the call list the
same way and differ only in when they stop (a parameter here, each rule tested):

- ``"page"`` (the ledger, the sweeps): stop after a page whose *every* call is surely older than
  the cutoff. A call counts as older only with an aware, parseable ``created_at``, so an odd
  timestamp or a list slightly out of order makes the scan go further, never stop too soon.
- ``"call"`` (the report, "calls since T"): yield calls up to the first older one, then stop.
  Naive timestamps are read as UTC; calls without one are kept (their age is unknown).

Newest first is an assumption (the sandbox's order; the real API's is undocumented), written in
docs/assumptions.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Literal

from casey_flows.client._constants import LIST_LIMIT_MAX
from casey_flows.client.client import AsyncCaseyClient
from casey_flows.client.models import Call

StopRule = Literal["page", "call"]


async def recent_call_pages(
    client: AsyncCaseyClient,
    connection_code: str,
    *,
    cutoff: datetime | None,
    stop: StopRule = "page",
    status: str | None = None,
    page_size: int = LIST_LIMIT_MAX,
) -> AsyncIterator[list[Call]]:
    """Pages of the connection's calls, newest first, until ``cutoff`` by the ``stop`` rule.

    Also stops at a short page (the end of the list). A reader that has what it needs simply
    stops iterating; ``cutoff=None`` reads to the end.
    """
    cutoff = as_utc(cutoff) if cutoff is not None else None
    offset = 0
    while True:
        page = await client.list_calls(
            connection_code, limit=page_size, offset=offset, status=status
        )
        if stop == "call" and cutoff is not None:
            newer = _until_first_older(page, cutoff)
            yield newer
            if len(newer) < len(page):
                return
        else:
            yield page
            if cutoff is not None and _page_predates(page, cutoff):
                return
        if len(page) < page_size:
            return
        offset += len(page)


def _page_predates(page: list[Call], cutoff: datetime) -> bool:
    return all(
        c.created_at is not None and c.created_at.tzinfo and c.created_at < cutoff for c in page
    )


def _until_first_older(page: list[Call], cutoff: datetime) -> list[Call]:
    for index, call in enumerate(page):
        if call.created_at is not None and as_utc(call.created_at) < cutoff:
            return page[:index]
    return page


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes (the UI's run form, an API timestamp without offset) are taken as UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
