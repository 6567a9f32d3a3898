"""Phone numbers: the documented E.164 rule and masking for anything a person might read.

Masking lives here, next to the rule, so every layer (client errors, sandbox, flows, artifacts)
shows numbers the same way and none of them prints a full number by accident.
"""

from __future__ import annotations

import re

# The pattern the Casey API documents for `phone_number`.
E164_PATTERN = r"^\+[1-9]\d{1,14}$"
# ASCII: in Python, \d also matches other scripts' digits, which no carrier dials.
_E164 = re.compile(E164_PATTERN, re.ASCII)

_VISIBLE_TAIL = 4
_HIDDEN_RUN = 5
_MIN_MASKABLE = 10
_MASK = "•"
# A digit run long enough to be a phone number, however it is formatted.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def is_e164(value: str) -> bool:
    """True when ``value`` matches the documented E.164 pattern exactly (no formatting)."""
    return bool(_E164.fullmatch(value))


def mask_phone(value: object) -> str:
    """Mask a phone number (or whatever was given where one was expected) for people to read.

    ``+14155550123`` -> ``+1•••••0123``: the ``+`` and first digit (rarely identifying) and the
    last four characters stay; a fixed run of dots hides even the length. Values too short to be
    a number show at most their last two characters, so a typo is never printed whole.
    """
    text = str(value)
    if len(text) >= _MIN_MASKABLE:
        head = text[:2] if text.startswith("+") else ""
        return head + _MASK * _HIDDEN_RUN + text[-_VISIBLE_TAIL:]
    tail = text[-2:] if len(text) >= 8 else ""
    return _MASK * _HIDDEN_RUN + tail


def mask_phone_runs(text: str) -> str:
    """Mask every phone-like digit run in free text (server messages, untyped API values).

    Errs towards masking: a long digit run that is not a phone number (a date, an amount) is
    masked too, which is the safe side for anything a person or a log may read.
    """
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)
