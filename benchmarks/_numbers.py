"""The benchmarks' phone numbers: distinct, valid to libphonenumber (a campaign rejects any
other), none a sandbox magic number (each call then ends as the benchmark's outcome mix says)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from casey_flows.sandbox.vocabulary import MAGIC_ANSWERS, MAGIC_SUFFIXES

# NANP numbers, +1 NPA NXX XXXX: exchanges 200-999 except the N11 service codes, 555 (directory
# and fiction) and the sandbox's magic-answer exchanges (digits 5-7 from the end); line numbers
# end in 1, so none is a sandbox magic suffix (0100, 0486, ...). 788,000 numbers per area code;
# the first 11,000 are the numbers earlier runs used (+1415 200 0001 on).
AREA_CODES = ("415", "628", "510", "650", "408", "925", "707", "916", "559", "209")
EXCHANGES = tuple(
    str(x) for x in range(200, 1000) if x % 100 != 11 and x != 555 and str(x) not in MAGIC_ANSWERS
)
LINES = tuple(f"{k:03d}1" for k in range(1000) if f"{k:03d}1" not in MAGIC_SUFFIXES)
PER_AREA_CODE = len(EXCHANGES) * len(LINES)
MAX_NUMBERS = len(AREA_CODES) * PER_AREA_CODE


def iter_phone_numbers(n: int) -> Iterator[str]:
    """N distinct NANP numbers in E.164, none a sandbox magic number (see ``AREA_CODES``)."""
    if n > MAX_NUMBERS:
        raise ValueError(f"{n:,} numbers asked; the generator has {MAX_NUMBERS:,}")
    prefixes = (f"+1{area}{exchange}" for area in AREA_CODES for exchange in EXCHANGES)
    numbers = (prefix + line for prefix in prefixes for line in LINES)
    return itertools.islice(numbers, n)


def phone_number_at(index: int) -> str:
    """The ``index``-th number of :func:`iter_phone_numbers`, without generating those before."""
    if not 0 <= index < MAX_NUMBERS:
        raise ValueError(f"number {index:,} asked; the generator has {MAX_NUMBERS:,}")
    area, rest = divmod(index, PER_AREA_CODE)
    exchange, line = divmod(rest, len(LINES))
    return f"+1{AREA_CODES[area]}{EXCHANGES[exchange]}{LINES[line]}"
