"""``casey_source``: a dlt source of calls and what was said on them.

Use it in any dlt pipeline (the ``sync_calls`` flow is one):

```python
import dlt
from casey_flows.warehouse import casey_source

pipeline = dlt.pipeline("casey_calls", destination="duckdb", dataset_name="casey")
pipeline.run(casey_source(["demo-outbound"], api_key="sk_test_sandbox",
                          base_url="http://127.0.0.1:8765/v1/backend"))
```

Resources (each merged on its primary key, so a re-run adds no duplicate rows):

- ``calls`` (``id``): every call of the connections, with ``dispatch_key``, ``campaign_id``, the
  number's ``line_type`` (libphonenumber's, from the number as loaded) and, once final,
  ``outcome`` (the campaign CSV's value: ``no_answer``, ``voicemail``...);
- ``conversations`` (``id``): the conversation of each call that connected, read once final;
- ``conversation_fields`` (``conversation_id``, ``field_id``): the answers, one row per field;
- ``conversation_answers`` (``conversation_id``): the same answers, one column per field;
- ``transcript_messages`` (``conversation_id``, ``seq``): what was said, one row per message;
- ``opt_outs`` (``connection_code``, ``phone_number``): who asked for no more calls.

Only ``calls`` lists anything; the rest read by id what ``calls`` hands them (a final call with a
conversation), so a sync with nothing new reads list pages only. The incremental rules are in
``casey_flows.warehouse.cursor``.
"""

from __future__ import annotations

import contextvars
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

import dlt
from dlt.common.data_types import TDataType
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from casey_flows.client import AsyncCaseyClient, CaseyClient, NotFoundError
from casey_flows.client._base import utcnow
from casey_flows.client._constants import DEFAULT_BASE_URL
from casey_flows.client.models import Call
from casey_flows.client.recent import recent_call_pages
from casey_flows.client.status import DEFAULT_TERMINAL_STATUSES, normalize_status
from casey_flows.core.dispatch import RedialRule
from casey_flows.warehouse import rows
from casey_flows.warehouse.cursor import ConnectionCursor

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# A call may show in the list late: re-list at least as far back as a campaign waits before it
# takes a missing create as never arrived (the exactly-once rule's tolerance).
DEFAULT_LIST_LAG_SECONDS = RedialRule().after_seconds
DEFAULT_EVICT_OPEN_AFTER_HOURS = 24.0
DEFAULT_OPT_OUT_FIELD = "opt_out"
# By-id reads in flight: 8 capped the reads at ~190/s with 12-38 ms of API latency, 16 at ~290/s
# (benchmarks/warehouse_sync.py); more gave nothing.
DEFAULT_MAX_WORKERS = 16
STATE_KEY = "casey_flows"


# Types of the documented fields, so a column exists (and is typed) even while every value so
# far is null; anything else the API sends is typed by dlt from the data. (A fresh dict per
# column: dlt writes the column's name into it.)
def _columns(**types: TDataType) -> TTableSchemaColumns:
    return {name: {"data_type": data_type} for name, data_type in types.items()}


_TEXT_FIELDS = ("connection_code", "status")
_TEXT: TDataType = "text"
CALL_COLUMNS = _columns(
    **dict.fromkeys(
        (
            *_TEXT_FIELDS,
            "direction",
            "name",
            "phone_number",
            "phone_call_provider",
            "conversation_id",
            "ended_reason",
            "dispatch_key",
            "campaign_id",
            "outcome",
            "line_type",
        ),
        _TEXT,
    ),
    context="json",
    schedule_plan="json",
    created_at="timestamp",
    is_final="bool",
    synced_at="timestamp",
)
CONVERSATION_COLUMNS = _columns(
    **dict.fromkeys((*_TEXT_FIELDS, "agent_id", "call_id"), _TEXT),
    started_at="timestamp",
    completed_at="timestamp",
    turn_count="bigint",
    participant_profile="json",
    is_final="bool",
    synced_at="timestamp",
)


@dlt.source(name="casey", max_table_nesting=0)
def casey_source(
    connection_codes: str | Sequence[str],
    api_key: TSecretStrValue = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    list_lag_seconds: float = DEFAULT_LIST_LAG_SECONDS,
    evict_open_after_hours: float = DEFAULT_EVICT_OPEN_AFTER_HOURS,
    opt_out_field: str = DEFAULT_OPT_OUT_FIELD,
    include_transcripts: bool = True,
    terminal_statuses: Sequence[str] | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> list[DltResource]:
    """Calls, conversations, answers, transcripts and opt-outs of Casey connections.

    Args:
        connection_codes: the call_out connections to load.
        api_key: the Casey key; from dlt config (``sources.casey.api_key``) when not given.
        base_url: the API (or the sandbox's) base URL.
        list_lag_seconds: how long a new call may take to show in the list; each sync re-lists
            that far back before the previous sync's start.
        evict_open_after_hours: calls or conversations still open after this long are given up
            on (a warning names them); their last row stays.
        opt_out_field: the conversation field whose "yes" puts the number in ``opt_outs``.
        include_transcripts: read transcripts (one more request per conversation).
        terminal_statuses: call statuses that are final (normalised); default: the library's.
        max_workers: conversation reads in parallel.
    """
    codes = [connection_codes] if isinstance(connection_codes, str) else list(connection_codes)
    if not codes:
        raise ValueError("connection_codes is empty: name at least one call_out connection")
    settings = _Settings(
        api_key=api_key,
        base_url=base_url,
        list_lag=timedelta(seconds=list_lag_seconds),
        evict_after=timedelta(hours=evict_open_after_hours),
        terminal=frozenset(
            normalize_status(s) or "" for s in terminal_statuses or DEFAULT_TERMINAL_STATUSES
        ),
        max_workers=max_workers,
    )
    numbers: dict[str, tuple[str, str]] = {}  # call id -> (connection, phone), for opt_outs
    calls = _calls_resource(codes, settings, numbers)
    conversations = calls | _conversations_transformer(settings)
    fields = conversations | _fields_transformer(settings)
    resources = [
        calls,
        conversations,
        fields,
        fields | _answers_transformer(),
        fields | _opt_outs_transformer(opt_out_field, numbers),
    ]
    if include_transcripts:
        resources.append(conversations | _messages_transformer(settings))
    return resources


class _Settings:
    """What every resource of one source needs; the key stays a secret in reprs."""

    def __init__(
        self,
        *,
        api_key: Any,
        base_url: str,
        list_lag: timedelta,
        evict_after: timedelta,
        terminal: frozenset[str],
        max_workers: int,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.list_lag = list_lag
        self.evict_after = evict_after
        self.terminal = terminal
        self.max_workers = max_workers
        self._reader: CaseyClient | None = None

    def __repr__(self) -> str:
        return f"_Settings(base_url={self.base_url!r}, api_key='**********')"

    def async_client(self) -> AsyncCaseyClient:
        """A client made on dlt's own event loop (the calls resource is async)."""
        return AsyncCaseyClient(self._api_key, base_url=self.base_url)

    def reader(self) -> CaseyClient:
        """One client for every by-id read of this source, made on first use (a client with its
        own TLS context cost ~25 ms of CPU to build: one per batch was 7 s of a 10,000-call
        sync; they share one context now, and one client still saves the pool). Closed when the
        source is garbage-collected; an httpx client is safe to share between threads."""
        if self._reader is None:
            self._reader = CaseyClient(self._api_key, base_url=self.base_url)
            weakref.finalize(self, self._reader.close)
        return self._reader

    def is_final(self, call: Call) -> bool:
        return call.is_terminal(self.terminal)


# dlt state is untyped JSON; the casts say what this source keeps there.
def _state() -> dict[str, Any]:
    """The source's own corner of dlt state: per-connection cursors, pending conversations."""
    return cast("dict[str, Any]", dlt.current.source_state().setdefault(STATE_KEY, {}))


def _pending_conversations() -> dict[str, dict[str, str]]:
    """Conversations of final calls that were not final yet: conversation id -> where from."""
    return cast("dict[str, dict[str, str]]", _state().setdefault("pending_conversations", {}))


def _calls_resource(
    codes: list[str], settings: _Settings, numbers: dict[str, tuple[str, str]]
) -> DltResource:
    @dlt.resource(name="calls", primary_key="id", write_disposition="merge", columns=CALL_COLUMNS)
    async def calls() -> AsyncIterator[list[dict[str, Any]]]:
        async with settings.async_client() as client:
            for code in codes:
                async for batch in _sync_connection(client, code, settings, numbers):
                    yield batch

    return calls


async def _sync_connection(
    client: AsyncCaseyClient,
    code: str,
    settings: _Settings,
    numbers: dict[str, tuple[str, str]],
) -> AsyncIterator[list[dict[str, Any]]]:
    """One connection: the re-listed window, then open calls by id, then the cursor saved."""
    cursors = _state().setdefault("connections", {})
    cursor = ConnectionCursor.from_state(cursors.get(code))
    started = utcnow()
    cutoff = cursor.cutoff(settings.list_lag)
    seen: set[str] = set()

    def load(call: Call) -> dict[str, Any]:
        final = settings.is_final(call)
        cursor.record(call, final=final, now=started)
        if final and call.conversation_id and call.phone_number:
            numbers[call.id] = (code, call.phone_number)
        return rows.call_row(call, is_final=final, synced_at=started, connection_code=code)

    async for page in recent_call_pages(client, code, cutoff=cutoff):
        batch = []
        for call in page:
            if call.id not in seen and cursor.is_new(call, cutoff):
                batch.append(load(call))
            seen.add(call.id)
        if batch:
            yield batch

    # Open calls the window no longer shows, and calls whose conversation was not final yet.
    pending = {
        p["call_id"] for p in _pending_conversations().values() if p["connection_code"] == code
    }
    reread = [i for i in [*cursor.open_calls, *sorted(pending)] if i not in seen]
    batch = []
    for call_id in dict.fromkeys(reread):
        try:
            call = await client.get_call(code, call_id)
        except NotFoundError:
            logger.warning("call %s on %s is gone from the API; its last row stays", call_id, code)
            cursor.open_calls.pop(call_id, None)
            continue
        batch.append(load(call))
    for call_id in cursor.evictable(started, settings.evict_after):
        logger.warning(
            "call %s on %s is still open after %s; no longer re-read (its last row stays)",
            call_id,
            code,
            settings.evict_after,
        )
        del cursor.open_calls[call_id]
    if batch:
        yield batch
    cursor.finish(started, settings.list_lag)
    cursors[code] = cursor.to_state()


def _in_parallel(
    settings: _Settings, items: list[T], read: Callable[[CaseyClient, T], R]
) -> Iterator[tuple[T, R | None]]:
    """Read each item with its own request, a few at a time; a 404 gives None and a warning."""

    def one(client: CaseyClient, item: T) -> R | None:
        try:
            return read(client, item)
        except NotFoundError as exc:
            logger.warning("%s answered 404 (%s); loaded without it", item, exc.message)
            return None

    if not items:
        return
    client = settings.reader()
    with ThreadPoolExecutor(settings.max_workers) as pool:
        # Each read in a copy of this context, as dlt's own pools do: its warnings then belong
        # to the flow run syncing (casey_flows.run_logs), also with two syncs in one process.
        reads = [pool.submit(contextvars.copy_context().run, one, client, item) for item in items]
        yield from zip(items, (r.result() for r in reads), strict=True)


class _ConversationRef(NamedTuple):
    """A conversation to read, and the call it belongs to (named in warnings, never a number)."""

    conversation_id: str
    call_id: str
    connection_code: str

    def __str__(self) -> str:
        return f"conversation {self.conversation_id} (call {self.call_id})"


def _final_refs(
    items: list[dict[str, Any]], *, id_key: str, call_key: str
) -> list[_ConversationRef]:
    return [
        _ConversationRef(row[id_key], row[call_key], row.get("connection_code") or "")
        for row in items
        if row.get("is_final") and row.get(id_key)
    ]


def _conversations_transformer(settings: _Settings) -> DltResource:
    @dlt.transformer(
        name="conversations",
        primary_key="id",
        write_disposition="merge",
        columns=CONVERSATION_COLUMNS,
    )
    def conversations(call_rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        pending, now = _pending_conversations(), utcnow()
        refs = _final_refs(call_rows, id_key="conversation_id", call_key="id")
        batch = []
        read = _in_parallel(settings, refs, lambda c, ref: c.get_conversation(ref.conversation_id))
        for ref, conversation in read:
            if conversation is None:
                pending.pop(ref.conversation_id, None)
                continue
            final = conversation.is_final
            if final:
                pending.pop(ref.conversation_id, None)
            else:
                _keep_pending(pending, ref, now, settings.evict_after)
            batch.append(
                rows.conversation_row(
                    conversation, call_id=ref.call_id, is_final=final, synced_at=now
                )
            )
        if batch:
            yield batch

    return conversations


def _keep_pending(
    pending: dict[str, dict[str, str]],
    ref: _ConversationRef,
    now: datetime,
    evict_after: timedelta,
) -> None:
    """Re-read next sync, unless it has been open too long already."""
    entry = pending.setdefault(
        ref.conversation_id,
        {"call_id": ref.call_id, "connection_code": ref.connection_code, "since": now.isoformat()},
    )
    if now - datetime.fromisoformat(entry["since"]) > evict_after:
        logger.warning("%s is still open after %s; no longer re-read", ref, evict_after)
        del pending[ref.conversation_id]


def _fields_transformer(settings: _Settings) -> DltResource:
    def to_rows(ref: _ConversationRef, fields: list[Any]) -> list[dict[str, Any]]:
        return rows.field_rows(
            ref.conversation_id, ref.call_id, fields, connection_code=ref.connection_code
        )

    return _per_final_conversation(
        settings,
        name="conversation_fields",
        primary_key=("conversation_id", "field_id"),
        columns=_columns(value="json", value_text="text", connection_code="text"),
        read=lambda client, conversation_id: client.get_conversation_fields(conversation_id),
        to_rows=to_rows,
    )


def _messages_transformer(settings: _Settings) -> DltResource:
    return _per_final_conversation(
        settings,
        name="transcript_messages",
        primary_key=("conversation_id", "seq"),
        columns=_columns(speaker="text", text="text", timestamp="timestamp"),
        read=lambda client, conversation_id: client.get_conversation_transcript(conversation_id),
        to_rows=lambda ref, messages: rows.message_rows(ref.conversation_id, messages),
    )


def _per_final_conversation(
    settings: _Settings,
    *,
    name: str,
    primary_key: tuple[str, ...],
    columns: TTableSchemaColumns,
    read: Callable[[CaseyClient, str], list[Any]],
    to_rows: Callable[[_ConversationRef, list[Any]], list[dict[str, Any]]],
) -> DltResource:
    """A table read once per final conversation (its fields, its transcript)."""

    @dlt.transformer(name=name, primary_key=primary_key, write_disposition="merge", columns=columns)
    def per_conversation(
        conversation_rows: list[dict[str, Any]],
    ) -> Iterator[list[dict[str, Any]]]:
        refs = _final_refs(conversation_rows, id_key="id", call_key="call_id")
        batch = []
        for ref, found in _in_parallel(settings, refs, lambda c, r: read(c, r.conversation_id)):
            batch.extend(to_rows(ref, found or []))
        if batch:
            yield batch

    return per_conversation


def _answers_transformer() -> DltResource:
    @dlt.transformer(
        name="conversation_answers", primary_key="conversation_id", write_disposition="merge"
    )
    def conversation_answers(field_rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        yield rows.answers_rows(field_rows)

    return conversation_answers


def _opt_outs_transformer(opt_out_field: str, numbers: dict[str, tuple[str, str]]) -> DltResource:
    @dlt.transformer(
        name="opt_outs",
        primary_key=("connection_code", "phone_number"),
        write_disposition="merge",
        columns=_columns(call_id="text", conversation_id="text", opted_out_at="timestamp"),
    )
    def opt_outs(field_rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        batch = []
        for row in field_rows:
            if row.get("field_id") != opt_out_field or not rows.is_truthy_answer(row["value"]):
                continue
            where = numbers.get(row["call_id"])
            if where is None:  # the number is not known for this call: nothing to suppress
                continue
            batch.append(rows.opt_out_row(row, connection_code=where[0], phone_number=where[1]))
        if batch:
            yield batch

    return opt_outs
