"""A do-not-call list: numbers that must never be dialled, checked in O(1).

Numbers are normalised with :func:`casey_flows.campaign.phone_numbers.normalize_phone`, the
same function that normalises contacts, in the same region (the campaign's ``default_region``),
so ``+1 (415) 555-0123`` on the list suppresses contact ``+14155550123``, and with region ``US``
so does ``(415) 555-0123``.

Invalid entries (e.g. ``4155550123`` without a region, or ``+1 000 000 0000``, which is no valid
number) are reported, masked, in ``rejected`` and never crash loading; callers should surface
them loudly, because such an entry cannot match any contact and the person it names is
therefore *not* suppressed.
A file that is not UTF-8 raises ``ContactFileError``: half-reading an opt-out list is worse
than stopping.

File formats: one number per line, or a CSV whose header has a ``phone_number`` column.
Blank lines and lines starting with ``#`` are ignored; so is anything after `` #`` on a line
of the one-number-per-line format.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from casey_flows.campaign.contacts import Contact, utf8_error_message
from casey_flows.campaign.phone_numbers import normalize_phone, region_code
from casey_flows.campaign.sources import FileSource
from casey_flows.client.phone import mask_phone
from casey_flows.exceptions import ContactFileError, InvalidPhoneNumber

_PHONE_COLUMN = "phone_number"


@dataclass(frozen=True)
class SuppressionRejection:
    """An entry that is not a usable number. ``value`` is masked."""

    source: str
    line: int
    value: str
    message: str


class SuppressionList:
    """Normalised E.164 numbers not to call. Its repr shows counts, never numbers.

    ``region`` reads entries in national format (``(415) 555-0123`` in ``US``); None: every
    entry needs its leading ``+``, as contacts do without a ``default_region``.
    """

    def __init__(
        self, numbers: Iterable[str] = (), *, source: str = "list", region: str | None = None
    ) -> None:
        self._numbers: set[str] = set()
        self.rejected: list[SuppressionRejection] = []
        self.source = source  # where the numbers came from, as a person would name it
        self.region = region_code(region, field="default_region")
        self.update(numbers, source=source)

    @classmethod
    def from_file(cls, path: str | Path, *, region: str | None = None) -> SuppressionList:
        """Load a list from a file (one number per line, or CSV with ``phone_number``)."""
        suppression = cls(source=FileSource(path).name, region=region)
        suppression.add_file(path)
        return suppression

    def update(self, numbers: Iterable[str], *, source: str = "list") -> None:
        """Add numbers; ``source`` names where they came from in rejection messages."""
        for position, number in enumerate(numbers, start=1):
            self._add(number, source, position)

    def add_file(self, path: str | Path) -> None:
        """Add every number in ``path``; invalid entries go to ``rejected``."""
        source = FileSource(path)
        try:
            for line_number, value in _entries(source):
                self._add(value, source.name, line_number)
        except UnicodeDecodeError:
            raise ContactFileError(utf8_error_message(source)) from None

    def __contains__(self, phone: object) -> bool:
        """True when ``phone`` (a number in any accepted format, or a Contact) is suppressed."""
        if isinstance(phone, Contact):  # read already: its number is the E.164 form
            return phone.phone_number in self._numbers
        try:
            return normalize_phone(phone, self.region) in self._numbers
        except InvalidPhoneNumber:
            return False  # an undiallable number can never be called, so nothing to suppress

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self) -> Iterator[str]:
        """The normalised numbers."""
        return iter(self._numbers)

    def __repr__(self) -> str:
        return f"SuppressionList(numbers={len(self)}, rejected={len(self.rejected)})"

    def _add(self, value: object, source: str, line: int) -> None:
        try:
            self._numbers.add(normalize_phone(value, self.region))
        except InvalidPhoneNumber as exc:
            shown = mask_phone(value) if isinstance(value, str) and value else str(value)[:20]
            message = f"{source} line {line}: {exc}"
            self.rejected.append(SuppressionRejection(source, line, shown, message))


def _entries(path: FileSource) -> Iterator[tuple[int, str]]:
    """(line number, raw value) for each entry, whichever of the two formats the file uses."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = ((n, line) for n, line in enumerate(handle, start=1) if _is_entry(line))
        first = next(lines, None)
        if first is None:
            return
        header = next(csv.reader([first[1]]))
        columns = [cell.strip().lower() for cell in header]
        if _PHONE_COLUMN in columns:
            yield from _csv_entries(lines, columns.index(_PHONE_COLUMN))
        else:
            yield first[0], _strip_comment(first[1])
            for number, line in lines:
                yield number, _strip_comment(line)


def _csv_entries(lines: Iterator[tuple[int, str]], column: int) -> Iterator[tuple[int, str]]:
    # One line at a time: suppression CSVs have no quoted line breaks worth supporting,
    # and it keeps line numbers exact.
    for number, line in lines:
        cells = next(csv.reader([line]), [])
        value = cells[column].strip() if column < len(cells) else ""
        if value:
            yield number, value


def _is_entry(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _strip_comment(line: str) -> str:
    return line.split(" #", 1)[0].strip()
