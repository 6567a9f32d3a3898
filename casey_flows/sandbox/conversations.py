"""Conversations of connected calls: the record the API shows, each connection's field
definitions, and the answers and transcript written when a conversation ends.

Answers come from their own RNG, keyed by the seed, the call's creation number and the field,
never from the lifecycle's RNG: that one draws a fixed number of values per create so seeded
outcomes repeat, and keyed draws repeat too, whatever order the calls end in and whichever
fields are defined.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.clock import iso_from_epoch, iso_now, parse_iso, wall_now
from casey_flows.sandbox.config import SEED_TIMESTAMP, ConnectionSpec
from casey_flows.sandbox.transcripts import write_transcript

FieldValue = v.FieldValue


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    """A field a connection's conversations answer with one of ``values``.

    ``created_at`` is the ``updated_at`` of the field's row until a conversation captures it.
    """

    field_id: str
    values: tuple[FieldValue, ...]
    weights: tuple[float, ...] | None
    created_at: str

    def wire(self) -> dict[str, Any]:
        return {
            "field_id": self.field_id,
            "values": list(self.values),
            "created_at": self.created_at,
        }


@dataclass(slots=True)
class ConversationRecord:
    """One conversation; it lives inside its call's record, so SQLite mirrors it with the call."""

    id: str
    connection_code: str
    agent_id: str | None
    status: str
    started_at: str
    participant_profile: dict[str, Any] | None
    completed_at: str | None = None
    answers: dict[str, FieldValue] = field(default_factory=dict)  # captured when it ends
    transcript: list[dict[str, str]] = field(default_factory=list)  # written when it ends

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "connection_code": self.connection_code,
            "agent_id": self.agent_id,
            "status": self.status,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "turn_count": len(self.transcript),
            "participant_profile": self.participant_profile,
        }


def participant_profile(name: str | None, context: dict[str, Any] | None) -> dict[str, Any] | None:
    """The call's ``context.participant_profile`` when it is an object, else its name."""
    profile = context.get("participant_profile") if context else None
    if isinstance(profile, dict):
        return profile
    return {"name": name} if name else None


def forced_answer(phone_number: str) -> tuple[str, FieldValue] | None:
    """The (field, value) a magic number forces: by its digits 5 to 7 from the end."""
    return v.MAGIC_ANSWERS.get(phone_number[-7:-4])


def _default_definitions(created_at: str) -> dict[str, FieldDefinition]:
    return {
        field_id: FieldDefinition(field_id, values, weights, created_at)
        for field_id, (values, weights) in v.DEFAULT_FIELDS.items()
    }


class Conversations:
    """Starts and ends conversations, with each connection's field definitions.

    ``define`` adds (or replaces) a definition at run time; it applies to conversations that
    end afterwards. ``reset`` goes back to the defaults, which every connection has.
    """

    def __init__(self, seed: int, connections: list[ConnectionSpec]) -> None:
        self.seed = seed
        self._connections = {c.connection_code: c for c in connections}
        self.reset()

    def reset(self) -> None:
        # A connection not configured (a call restored from SQLite after the config changed)
        # still gets the defaults, so every ended conversation answers the default fields.
        self._definitions: defaultdict[str, dict[str, FieldDefinition]] = defaultdict(
            lambda: _default_definitions(SEED_TIMESTAMP)
        )
        for code, conn in self._connections.items():
            self._definitions[code] = _default_definitions(conn.created_at)

    def definitions(self, connection_code: str) -> list[FieldDefinition]:
        """The connection's definitions, ordered by field_id."""
        return sorted(self._definitions[connection_code].values(), key=lambda d: d.field_id)

    def define(
        self, connection_code: str, field_id: str, values: list[FieldValue]
    ) -> list[FieldDefinition]:
        """Add or replace a definition (values drawn uniformly); returns all the connection's."""
        self._definitions[connection_code][field_id] = FieldDefinition(
            field_id, tuple(values), None, iso_now()
        )
        return self.definitions(connection_code)

    def begin(
        self, connection_code: str, name: str | None, context: dict[str, Any] | None
    ) -> ConversationRecord:
        """The conversation of a call answered now (its id is a uuid4, like call ids)."""
        conn = self._connections.get(connection_code)
        return ConversationRecord(
            id=str(uuid.uuid4()),
            connection_code=connection_code,
            agent_id=conn.agent_id if conn is not None else None,
            status=v.CONVERSATION_IN_PROGRESS,
            started_at=iso_now(),
            participant_profile=participant_profile(name, context),
        )

    def finish(
        self,
        conversation: ConversationRecord,
        creation_seq: int,
        phone_number: str,
        ended_reason: str,
    ) -> None:
        """End the conversation with its call: final status, answers, transcript, all at once."""
        ended = wall_now()
        completed = ended_reason in v.CONVERSATION_COMPLETING_REASONS
        conversation.status = v.CONVERSATION_COMPLETED if completed else v.CONVERSATION_ABANDONED
        conversation.completed_at = iso_from_epoch(ended)
        if completed:
            conversation.answers = self._answers(
                conversation.connection_code, creation_seq, phone_number
            )
        profile = conversation.participant_profile or {}
        name = profile.get("name")
        conversation.transcript = write_transcript(
            conversation.answers,
            name if isinstance(name, str) else None,
            ended_reason,
            random.Random(f"{self.seed}:{creation_seq}:transcript"),
            parse_iso(conversation.started_at),
            ended,
        )

    def _answers(
        self, connection_code: str, creation_seq: int, phone_number: str
    ) -> dict[str, FieldValue]:
        answers = {
            d.field_id: random.Random(f"{self.seed}:{creation_seq}:{d.field_id}").choices(
                d.values, d.weights
            )[0]
            for d in self.definitions(connection_code)
        }
        forced = forced_answer(phone_number)
        if forced is not None:
            answers[forced[0]] = forced[1]
        return answers

    def fields(self, conversation: ConversationRecord, active_only: bool) -> list[dict[str, Any]]:
        """The rows of ``GET /conversations/{id}/fields``, ordered by field_id.

        ``active_only``: the captured answers. Otherwise every definition of the connection too
        (``value: null``, ``updated_at`` when it was defined), and captured answers whose
        definition is gone (added definitions are not persisted across a restart).
        """
        answers = conversation.answers
        if active_only:
            return [
                {"field_id": f, "value": answers[f], "updated_at": conversation.completed_at}
                for f in sorted(answers)
            ]
        defined = self._definitions[conversation.connection_code]
        return [
            {
                "field_id": f,
                "value": answers.get(f),
                "updated_at": conversation.completed_at if f in answers else defined[f].created_at,
            }
            for f in sorted(defined.keys() | answers.keys())
        ]
