"""The open vocabulary of call statuses.

Casey documents no value of ``status`` or ``ended_reason``. We normalise spelling (case, ``-``,
spaces) so ``No-Answer`` and ``no_answer`` compare equal, keep unknown values as they are, and
let callers choose which statuses count as terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

# Broad on purpose: any of these, however spelled, means the call will not change again.
DEFAULT_TERMINAL_STATUSES: frozenset[str] = frozenset(
    {
        "completed",
        "complete",
        "ended",
        "finished",
        "done",
        "busy",
        "no_answer",
        "noanswer",
        "unanswered",
        "failed",
        "failure",
        "error",
        "errored",
        "canceled",
        "cancelled",
        "voicemail",
        "rejected",
        "declined",
        "expired",
        "abandoned",
        "hangup",
        "hung_up",
    }
)


def normalize_status(value: str | None) -> str | None:
    """``" No-Answer "`` -> ``"no_answer"``; ``None`` stays ``None``; unknown words are kept."""
    if value is None:
        return None
    return "_".join(value.strip().lower().replace("-", " ").split())


def normalize_statuses(values: Iterable[str]) -> frozenset[str]:
    """Normalise a configured set of statuses so membership tests ignore spelling."""
    return frozenset(s for s in (normalize_status(v) for v in values) if s)
