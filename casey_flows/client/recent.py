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

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timezone
from typing import Literal, TypeVar

from casey_flows.client._constants import LIST_LIMIT_MAX
from casey_flows.client.client import AsyncCaseyClient
from casey_flows.client.models import Call
from casey_flows.client.pages import CallPage

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

    async def fetch(offset: int) -> list[Call]:
        return await client.list_calls(
            connection_code, limit=page_size, offset=offset, status=status
        )

    async for page in _recent(fetch, _created_at, cutoff, stop, page_size):
        yield page


async def recent_lazy_pages(
    client: AsyncCaseyClient,
    connection_code: str,
    *,
    cutoff: datetime | None,
    stop: StopRule = "page",
    status: str | None = None,
    page_size: int = LIST_LIMIT_MAX,
    offset: int = 0,
) -> AsyncIterator[CallPage]:
    """:func:`recent_call_pages`, as pages whose calls are validated only when read (a reader
    that wants a few calls of each page); ``offset`` skips that many of the newest calls."""

    async def fetch(offset: int) -> CallPage:
        return await client.list_call_page(
            connection_code, limit=page_size, offset=offset, status=status
        )

    async for page in _recent(fetch, CallPage.created_at, cutoff, stop, page_size, offset):
        yield page


Page = TypeVar("Page", list[Call], CallPage)


async def _recent(
    fetch: Callable[[int], Awaitable[Page]],
    created_at: Callable[[Page, int], datetime | None],
    cutoff: datetime | None,
    stop: StopRule,
    page_size: int,
    offset: int = 0,
) -> AsyncIterator[Page]:
    """The paging and both stop rules, for either kind of page."""
    cutoff = as_utc(cutoff) if cutoff is not None else None
    while True:
        page = await fetch(offset)
        stamps = (created_at(page, i) for i in range(len(page)))
        if stop == "call" and cutoff is not None:
            newer = page[: _newer_count(stamps, cutoff)]
            yield newer
            if len(newer) < len(page):
                return
        else:
            yield page
            if cutoff is not None and _all_older(stamps, cutoff):
                return
        if len(page) < page_size:
            return
        offset += len(page)


def _created_at(page: list[Call], index: int) -> datetime | None:
    return page[index].created_at


def _all_older(stamps: Iterable[datetime | None], cutoff: datetime) -> bool:
    """The page rule: every call surely older (an aware, parseable ``created_at``)."""
    return all(s is not None and s.tzinfo and s < cutoff for s in stamps)


def _newer_count(stamps: Iterable[datetime | None], cutoff: datetime) -> int:
    """The call rule: how many calls come before the first older one."""
    count = 0
    for stamp in stamps:
        if stamp is not None and as_utc(stamp) < cutoff:
            break
        count += 1
    return count


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes (the UI's run form, an API timestamp without offset) are taken as UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
