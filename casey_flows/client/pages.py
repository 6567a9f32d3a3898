"""A page of the call list whose calls are validated only when read.

A watcher sweeping the list for the calls it waits on needs few of the 100 calls a page holds,
and of those only the ones whose state moved; validating every call into a model was the larger
part of a sweep's CPU (``benchmarks/README.md``). The JSON object of each call stays readable as
sent (``raw``), and ``created_at`` is parsed exactly as :class:`Call` parses it, so the paging
rules need no model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, overload

from casey_flows.client._base import _CALL_LIST, _parse
from casey_flows.client.models import Call, parse_instant


class CallPage(Sequence[Call]):
    """The calls of one list response, each validated on first read (then kept).

    Reading a call of the wrong shape raises :class:`~casey_flows.client.APIStatusError`, as
    ``list_calls`` does for the whole page; calls never read are never validated.
    """

    __slots__ = ("_calls", "_items")

    def __init__(self, items: list[Any]) -> None:
        self._items = items
        self._calls: list[Call | None] = [None] * len(items)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Call: ...

    @overload
    def __getitem__(self, index: slice) -> CallPage: ...

    def __getitem__(self, index: int | slice) -> Call | CallPage:
        if isinstance(index, slice):
            return CallPage(self._items[index])
        call = self._calls[index]
        if call is None:
            item = self._items[index]
            call = _parse(lambda: Call.model_validate(item))
            self._calls[index] = call
        return call

    def __iter__(self) -> Iterator[Call]:
        return (self[i] for i in range(len(self._items)))

    def __repr__(self) -> str:
        return f"CallPage({len(self._items)} calls)"

    def raw(self, index: int) -> Any:
        """The call's JSON object as the API sent it (do not change it)."""
        return self._items[index]

    def id_at(self, index: int) -> str | None:
        """The call's ``id`` without validating the call (None if it has no string id)."""
        item = self._items[index]
        call_id = item.get("id") if isinstance(item, dict) else None
        return call_id if isinstance(call_id, str) else None

    def created_at(self, index: int) -> datetime | None:
        """``created_at`` parsed as :attr:`Call.created_at` is, without validating the call."""
        item = self._items[index]
        if not isinstance(item, dict) or "created_at_raw" in item:  # the model's own rules
            return self[index].created_at
        return parse_instant(item.get("created_at"))

    def calls(self) -> list[Call]:
        """Every call, validated (at once, for those not read yet)."""
        if all(call is None for call in self._calls):
            calls: list[Call] = _parse(lambda: _CALL_LIST.validate_python(self._items))
            self._calls = list(calls)
            return calls
        return list(self)
