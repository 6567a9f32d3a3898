"""Plausible transcripts for the sandbox's conversations, consistent with the answers captured.

Written when a conversation ends, from a seeded RNG the caller owns: a completed appointment
reminder in five or six messages (the agent greets and asks about the appointment, the
participant answers as the fields say), a voicemail or a call cut short in three. Timestamps
spread evenly over the conversation, so they fall between ``started_at`` and ``completed_at``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from casey_flows.sandbox import vocabulary as v
from casey_flows.sandbox.clock import iso_from_epoch

Line = tuple[str, str]  # (speaker, text)

_CONFIRM_QUESTIONS = (
    "Will you be able to make it?",
    "Can you confirm you'll be there?",
)
_TIME_QUESTION = "Which time of day suits you best for appointments: morning, afternoon or evening?"
_OPT_OUT_QUESTION = "Would you like to keep getting reminder calls from us?"

# What a participant says for a known answer; other answers are read out as they are.
_PHRASES: dict[tuple[str, Any], tuple[str, ...]] = {
    (v.APPOINTMENT_CONFIRMED, "yes"): ("Yes, I'll be there.", "Yes, that still works for me."),
    (v.APPOINTMENT_CONFIRMED, "no"): ("No, I can't make it, sorry.", "Unfortunately not."),
    (v.PREFERRED_TIME, "morning"): ("Mornings are best for me.", "I prefer mornings."),
    (v.PREFERRED_TIME, "afternoon"): ("Afternoons work best.", "The afternoon, please."),
    (v.PREFERRED_TIME, "evening"): ("Evenings, if possible.", "After work, so evenings."),
    (v.OPT_OUT, True): ("No, please stop calling me.", "No thanks, take me off your list."),
}
_GOODBYES = ("Thank you, have a great day!", "Thanks for your time. Goodbye!")
_PARTICIPANT_GOODBYES = ("Bye!", "Thanks, you too.")
_CUT_OFF_REPLIES = ("Sorry, who is this?", "Hello? I can barely hear you.")


def write_transcript(
    answers: dict[str, Any],
    name: str | None,
    ended_reason: str,
    rng: random.Random,
    started: float,
    ended: float,
) -> list[dict[str, str]]:
    """The messages of a conversation that ended with ``ended_reason``, in order."""
    if ended_reason in v.CONVERSATION_COMPLETING_REASONS:
        lines = _reminder(answers, name, rng)
    elif ended_reason == v.VOICEMAIL:
        lines = _voicemail(name)
    else:
        lines = _cut_off(name, rng)
    step = (ended - started) / len(lines)
    return [
        {"speaker": speaker, "text": text, "timestamp": iso_from_epoch(started + (i + 0.5) * step)}
        for i, (speaker, text) in enumerate(lines)
    ]


def _greeting(name: str | None) -> str:
    hello = f"Hi {name}" if name else "Hi"
    return f"{hello}, this is Casey calling about your upcoming appointment."


def _say(field_id: str, value: Any, rng: random.Random) -> str:
    phrases = _PHRASES.get((field_id, value))
    if phrases:
        return rng.choice(phrases)
    spoken = value if isinstance(value, str) else json.dumps(value)  # true, not True
    return f"My {field_id.replace('_', ' ')} is {spoken}."


def _ask(field_id: str) -> str:
    if field_id == v.PREFERRED_TIME:
        return _TIME_QUESTION
    return f"What is your {field_id.replace('_', ' ')}?"


def _reminder(answers: dict[str, Any], name: str | None, rng: random.Random) -> list[Line]:
    """Greeting and the appointment question, then every other field in one exchange, then
    the opt-out exchange or a goodbye."""
    others = sorted(set(answers) - {v.APPOINTMENT_CONFIRMED, v.OPT_OUT})
    lines: list[Line] = [
        (v.SPEAKER_AGENT, f"{_greeting(name)} {rng.choice(_CONFIRM_QUESTIONS)}"),
        (
            v.SPEAKER_PARTICIPANT,
            _say(v.APPOINTMENT_CONFIRMED, answers[v.APPOINTMENT_CONFIRMED], rng),
        ),
        (v.SPEAKER_AGENT, " ".join(["Thanks.", *(_ask(f) for f in others)])),
        (v.SPEAKER_PARTICIPANT, " ".join(_say(f, answers[f], rng) for f in others)),
    ]
    if answers[v.OPT_OUT] is True:
        lines.append((v.SPEAKER_AGENT, _OPT_OUT_QUESTION))
        lines.append((v.SPEAKER_PARTICIPANT, _say(v.OPT_OUT, True, rng)))
        return lines
    lines.append((v.SPEAKER_AGENT, rng.choice(_GOODBYES)))
    if rng.random() < 0.5:
        lines.append((v.SPEAKER_PARTICIPANT, rng.choice(_PARTICIPANT_GOODBYES)))
    return lines


def _voicemail(name: str | None) -> list[Line]:
    return [
        (v.SPEAKER_AGENT, _greeting(name)),
        (v.SPEAKER_AGENT, "Please call us back to let us know whether you can make it."),
        (v.SPEAKER_AGENT, "Thank you, goodbye."),
    ]


def _cut_off(name: str | None, rng: random.Random) -> list[Line]:
    return [
        (v.SPEAKER_AGENT, f"{_greeting(name)} {rng.choice(_CONFIRM_QUESTIONS)}"),
        (v.SPEAKER_PARTICIPANT, rng.choice(_CUT_OFF_REPLIES)),
        (v.SPEAKER_AGENT, "This is Casey, about your appointment. Are you still there?"),
    ]
