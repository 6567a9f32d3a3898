"""The sandbox's one vocabulary: statuses, ended reasons, outcomes, conversation statuses and
fields, error codes, magic numbers.

The real API documents none of these values, so the sandbox picks one set and keeps it in this
single module: tests, the docs and the lifecycle engine all read the same constants, and a
change here is a change everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

# -- call statuses ---------------------------------------------------------------------------
SCHEDULED = "scheduled"  # has a schedule_plan whose earliest_at is still in the future
QUEUED = "queued"  # accepted, waiting for a dial slot (concurrency cap) or the ticker
RINGING = "ringing"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
BUSY = "busy"
NO_ANSWER = "no_answer"
FAILED = "failed"

NON_TERMINAL_STATUSES: frozenset[str] = frozenset({SCHEDULED, QUEUED, RINGING, IN_PROGRESS})
TERMINAL_STATUSES: frozenset[str] = frozenset({COMPLETED, BUSY, NO_ANSWER, FAILED})
IN_FLIGHT_STATUSES: frozenset[str] = frozenset({RINGING, IN_PROGRESS})
ALL_STATUSES: tuple[str, ...] = (
    SCHEDULED,
    QUEUED,
    RINGING,
    IN_PROGRESS,
    COMPLETED,
    BUSY,
    NO_ANSWER,
    FAILED,
)

# -- ended reasons ----------------------------------------------------------------------------
CUSTOMER_ENDED_CALL = "customer_ended_call"
AGENT_ENDED_CALL = "agent_ended_call"
VOICEMAIL = "voicemail"
REASON_BUSY = "busy"
REASON_NO_ANSWER = "no_answer"
PROVIDER_ERROR = "provider_error"
MAX_DURATION = "max_duration"
SCHEDULE_EXPIRED = "schedule_expired"

ENDED_REASONS: tuple[str, ...] = (
    CUSTOMER_ENDED_CALL,
    AGENT_ENDED_CALL,
    VOICEMAIL,
    REASON_BUSY,
    REASON_NO_ANSWER,
    PROVIDER_ERROR,
    MAX_DURATION,
    SCHEDULE_EXPIRED,
)


class Outcome(NamedTuple):
    """How a dialled call ends: its terminal status, ended reason and whether it connects.

    ``connects`` decides whether the call passes through ``in_progress`` (and so gets a
    ``conversation_id``) or ends straight from ``ringing``.
    """

    status: str
    ended_reason: str
    connects: bool


# Outcome names are the keys of ``SandboxConfig.outcome_weights`` and of the admin
# "force outcome" call.
OUTCOMES: dict[str, Outcome] = {
    "completed": Outcome(COMPLETED, CUSTOMER_ENDED_CALL, True),
    "agent_ended": Outcome(COMPLETED, AGENT_ENDED_CALL, True),
    "voicemail": Outcome(COMPLETED, VOICEMAIL, True),
    "busy": Outcome(BUSY, REASON_BUSY, False),
    "no_answer": Outcome(NO_ANSWER, REASON_NO_ANSWER, False),
    "failed": Outcome(FAILED, PROVIDER_ERROR, False),
    "max_duration": Outcome(COMPLETED, MAX_DURATION, True),
}

# The outcome name for the magic "long call": it connects and completes normally, but only
# after ``LONG_CALL_FACTOR`` times the mean call duration.
LONG_CALL = "long_call"
LONG_CALL_FACTOR = 20.0

# Phone numbers whose last four digits are a key here always get that outcome, whatever the
# configured mix or seed. Flow tests depend on these exact values: do not change them.
MAGIC_SUFFIXES: dict[str, str] = {
    "0100": "completed",  # completed / customer_ended_call
    "0486": "busy",  # busy / busy
    "0408": "no_answer",  # no_answer / no_answer
    "0555": "voicemail",  # completed / voicemail
    "0500": "failed",  # failed / provider_error
    "0999": LONG_CALL,  # in_progress for 20x the mean duration, then completed
}

# -- conversations --------------------------------------------------------------------------------
# The documented conversation statuses. The sandbox produces three: an answered call starts its
# conversation ``in_progress``; when the call ends, the conversation is ``completed`` if the
# call's ended reason is in CONVERSATION_COMPLETING_REASONS, else ``abandoned`` (a voicemail, a
# call cut at max_duration, an outcome forced on a connected call). ``pending`` and ``archived``
# are valid filters that match nothing.
CONVERSATION_PENDING = "pending"
CONVERSATION_IN_PROGRESS = "in_progress"
CONVERSATION_COMPLETED = "completed"
CONVERSATION_ABANDONED = "abandoned"
CONVERSATION_ARCHIVED = "archived"
CONVERSATION_STATUSES: tuple[str, ...] = (
    CONVERSATION_PENDING,
    CONVERSATION_IN_PROGRESS,
    CONVERSATION_COMPLETED,
    CONVERSATION_ABANDONED,
    CONVERSATION_ARCHIVED,
)
CONVERSATION_COMPLETING_REASONS: frozenset[str] = frozenset({CUSTOMER_ENDED_CALL, AGENT_ENDED_CALL})

SPEAKER_AGENT = "agent"
SPEAKER_PARTICIPANT = "participant"

# The field definitions every connection starts with: field_id -> (values, weights).
APPOINTMENT_CONFIRMED = "appointment_confirmed"
PREFERRED_TIME = "preferred_time"
OPT_OUT = "opt_out"
# What a conversation field may hold (JSON scalars).
FieldValue = str | int | float | bool

DEFAULT_FIELDS: dict[str, tuple[tuple[FieldValue, ...], tuple[float, ...]]] = {
    APPOINTMENT_CONFIRMED: (("yes", "no"), (0.7, 0.3)),
    PREFERRED_TIME: (("morning", "afternoon", "evening"), (1.0, 1.0, 1.0)),
    OPT_OUT: ((True, False), (0.1, 0.9)),
}

# Phone numbers whose digits 5 to 7 from the end are a key here answer that field with that
# value, whatever the seed (``+1415 990 1234``: opt_out is true). Such a number always connects
# and ends ``completed`` / ``customer_ended_call``, unless its last four digits are a
# MAGIC_SUFFIXES key, which wins. Other digits than MAGIC_SUFFIXES, and not the ``555`` of
# common test numbers. Flow and loader tests depend on these exact values: do not change them.
MAGIC_ANSWERS: dict[str, tuple[str, FieldValue]] = {
    "990": (OPT_OUT, True),
    "991": (APPOINTMENT_CONFIRMED, "yes"),
    "992": (APPOINTMENT_CONFIRMED, "no"),
}

# -- connection channel types -------------------------------------------------------------------
CALL_OUT_CHANNEL = "call_out"

# -- other wire constants ----------------------------------------------------------------------
DIRECTION_OUTBOUND = "outbound"
PHONE_CALL_PROVIDER = "sandbox"

# -- error codes (HTTP status in the comment) ------------------------------------------------
ERR_VALIDATION = "validation_error"  # 400
ERR_INVALID_JSON = "invalid_json"  # 400
ERR_UNAUTHORIZED = "unauthorized"  # 401: missing, malformed or unknown key
ERR_LIVE_KEY_REFUSED = "live_key_refused"  # 401
ERR_ADMIN_UNAUTHORIZED = "admin_unauthorized"  # 401: /_sandbox/* without the admin token
ERR_CONNECTION_NOT_FOUND = "connection_not_found"  # 404
ERR_CALL_NOT_FOUND = "call_not_found"  # 404
ERR_CONVERSATION_NOT_FOUND = "conversation_not_found"  # 404
ERR_NOT_FOUND = "not_found"  # 404: no such route
ERR_METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
ERR_NOT_CALL_OUT = "not_call_out"  # 409
ERR_RATE_LIMITED = "rate_limited"  # 429
ERR_INTERNAL = "internal_error"  # 500 (injected faults included)
ERR_SERVICE_UNAVAILABLE = "service_unavailable"  # 503 (injected faults)
