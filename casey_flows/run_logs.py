"""The library's warnings in the Prefect run log, where a person reading the run looks.

Library code logs to plain Python loggers, ``logging.getLogger(__name__)`` under ``casey_flows``:
it also runs outside flows (a team's own dlt pipeline, scripts, tests), and in threads where
Prefect's run loggers find no run. Every flow of the library runs inside :func:`forwarding`
(:func:`forwards_logs`); while a run has it open, one handler on the ``casey_flows`` logger ships
that run's records at WARNING and up into its log, under their own logger names (the UI shows
``casey_flows.core.dispatch``), and collects their messages for the run's summary.

Which run a record belongs to: the one open in the record's context (a contextvar, so two runs in
one process stay apart; threads started with a copy of the context, as anyio's and dlt's are,
keep it). A thread with no run context at all (a pool that copies no context) reaches the one flow
run forwarding in this process, if there is exactly one: with two, it could be either's. The
sandbox (``casey_flows.sandbox``) is the emulated Casey API, not the run's doing: never forwarded.

A team that sets ``PREFECT_LOGGING_EXTRA_LOGGERS=casey_flows`` puts Prefect's own
``APILogHandler`` on the logger too; it ships every record that has a run context. This handler
then ships only the others (records from threads without one), so no line appears twice.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

if TYPE_CHECKING:
    from prefect import Flow

F = TypeVar("F", bound="Flow[..., Any]")

LIBRARY_LOGGER = "casey_flows"
NOT_FORWARDED = "casey_flows.sandbox"
# What PREFECT_LOGGING_EXTRA_LOGGERS ships as well (Prefect's root level). The library's INFO
# lines are per call (an adopted call, a retried request): at campaign scale every forwarded
# line is a write in the Prefect server.
FORWARDED_LEVEL = logging.WARNING


class _Scope:
    """One open :func:`forwarding` of a flow run, and the messages logged while it is open."""

    def __init__(self, flow_run_id: UUID | None, outer: _Scope | None) -> None:
        self.flow_run_id = flow_run_id
        self.outer = outer  # the enclosing scope of the same run: it collects the same records
        self.messages: list[str] = []
        self.open = True

    def open_chain(self) -> list[_Scope]:
        chain: list[_Scope] = []
        scope: _Scope | None = self
        while scope is not None:
            if scope.open:
                chain.append(scope)
            scope = scope.outer
        return chain


_current: ContextVar[_Scope | None] = ContextVar("casey_flows_run_log", default=None)
# Scopes of flow runs, for records from threads that carry no context: a registry, not a
# contextvar, because such a thread sees none of the run's context.
_open_scopes: list[_Scope] = []
_lock = threading.Lock()


class RunLogHandler(APILogHandler):
    """Ships ``casey_flows`` records into the flow run that has :func:`forwarding` open.

    Prefect's ``APILogHandler`` does the shipping (batching, size limits, the settings toggle);
    this one only says which run a record belongs to, by setting its ``flow_run_id`` (and the
    task run's id when the record comes from one) on a copy, so the name stays the record's own.
    """

    def __init__(self) -> None:
        super().__init__(level=FORWARDED_LEVEL)

    def emit(self, record: logging.LogRecord) -> None:
        if _not_forwarded(record.name):
            return
        try:
            scopes = _scopes_for(record)
            if not scopes:
                return
            message = record.getMessage()
            for scope in scopes:
                scope.messages.append(message)
            flow_run_id = scopes[0].flow_run_id
            if flow_run_id is None or _prefect_ships(record, self):
                return
            shipped = copy.copy(record)
            vars(shipped).update(flow_run_id=flow_run_id, task_run_id=_task_run_id(flow_run_id))
        except Exception:
            self.handleError(record)
            return
        super().emit(shipped)


@contextmanager
def forwarding() -> Iterator[list[str]]:
    """While open, the library's warnings reach the current flow run's log; yields the list of
    the messages logged while it is open.

    Entered once per flow run (:func:`forwards_logs`); entered again inside the same run, it
    collects what that block logs (e.g. the warnings of one read), still shipping each record
    once. Outside a flow run it only collects.
    """
    _install()
    context = FlowRunContext.get()
    flow_run_id = context.flow_run.id if context is not None and context.flow_run else None
    outer = _current.get()
    same_run = outer is not None and outer.open and outer.flow_run_id == flow_run_id
    scope = _Scope(flow_run_id, outer if same_run else None)
    token = _current.set(scope)
    if flow_run_id is not None:
        with _lock:
            _open_scopes.append(scope)
    try:
        yield scope.messages
    finally:
        scope.open = False
        _current.reset(token)
        with _lock:
            _open_scopes[:] = [s for s in _open_scopes if s is not scope]


def forwards_logs(flow: F) -> F:
    """For a library flow, above ``@flow``: its whole run inside :func:`forwarding`.

    It wraps the built flow's function, not the function ``@flow`` builds from, so the flow's
    parameter schema and its version (Prefect hashes the file of the function it was given)
    stay the flow module's own; ``with_options`` copies both.
    """
    body = flow.fn

    @functools.wraps(body)
    async def run(*args: Any, **kwargs: Any) -> Any:
        with forwarding():
            return await body(*args, **kwargs)

    flow.fn = run
    return flow


def _install() -> None:
    """One handler on the library's logger, added on first use (importing the library changes
    no logging), and again if a logging configuration replaced the logger's handlers."""
    library = logging.getLogger(LIBRARY_LOGGER)
    with _lock:
        if not any(isinstance(h, RunLogHandler) for h in library.handlers):
            library.addHandler(RunLogHandler())


def _not_forwarded(name: str) -> bool:
    return name == NOT_FORWARDED or name.startswith(NOT_FORWARDED + ".")


def _in_a_run() -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _scopes_for(record: logging.LogRecord) -> list[_Scope]:
    """The open scopes the record is collected in (all of one flow run), or none."""
    current = _current.get()
    if current is not None:
        return current.open_chain()
    if _in_a_run():  # a run that forwards nothing (a team's own flow): Prefect's to ship, or not
        return []
    with _lock:
        runs = {scope.flow_run_id for scope in _open_scopes}
        return list(_open_scopes) if len(runs) == 1 else []


def _prefect_ships(record: logging.LogRecord, ours: logging.Handler) -> bool:
    """Whether Prefect's own APILogHandler, on the record's way up the logger tree
    (``PREFECT_LOGGING_EXTRA_LOGGERS``), ships it: it can when the thread has a run context."""
    if not _in_a_run():
        return False
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        for handler in logger.handlers:
            if (
                isinstance(handler, APILogHandler)
                and handler is not ours
                and record.levelno >= handler.level
            ):
                return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def _task_run_id(flow_run_id: UUID) -> UUID | None:
    """The task run the record comes from, when it is one of this flow run's."""
    context = TaskRunContext.get()
    if context is not None and context.task_run.flow_run_id == flow_run_id:
        return context.task_run.id
    return None
