"""A query's result, read once to its end into a local JSON-lines file: the selected rows.

Pure: no Prefect, no database. The readers (a Prefect database block, the embedded warehouse)
hand it the result's column names once and then pages of rows; it maps the names like CSV
headers, checks there is a ``phone_number`` column, and writes one row per line. The rows are
read back numbered by their 1-based position in the result, for
:func:`casey_flows.campaign.contacts.parse_rows`.

Column names:

- ``phone_number``, ``name``, ``timezone``, ``participant_id`` and ``context`` match whatever
  their case (Snowflake upper-cases unquoted names: ``PHONE_NUMBER`` is ``phone_number``);
- ``context.<key>`` and ``context_<key>`` (BigQuery allows no dot in a column name) both go to
  the call's context as ``<key>``; a name written all upper case (Snowflake's folding again) gives
  a lower-case key, so ``CONTEXT_FIRST_NAME`` is ``context.first_name``;
- other columns are kept, and reported once as ignored by the contacts parser.

Values are written with ``json.dumps(default=str)``: dates, decimals and UUIDs become text.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from casey_flows.campaign.contacts import _FIELDS as CONTACT_FIELDS
from casey_flows.exceptions import ContactSourceError

PHONE_COLUMN = "phone_number"
SPOOL_FILE = "rows.jsonl"
_CONTEXT_PREFIXES = ("context.", "context_")
_SHOWN_COLUMNS = 30


def contact_key(column: str) -> str:
    """A result column's name as a contacts key (see the module's docstring)."""
    name = column.strip()
    if name.isupper():
        name = name.lower()
    lowered = name.lower()
    if lowered in CONTACT_FIELDS or lowered == "context":
        return lowered
    for prefix in _CONTEXT_PREFIXES:
        if lowered.startswith(prefix) and len(name) > len(prefix):
            return "context." + name[len(prefix) :]
    return name


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def integer_phone_hint(column: str) -> str:
    """What to do when the database hands the phone column over as a number."""
    return (
        f"column {column!r} holds numbers, not text: a number has no leading '+' (nor a leading "
        "0), so its rows are rejected. Cast it in the query, e.g. "
        "SELECT '+' || CAST(phone AS TEXT) AS phone_number"
    )


class RowSpool:
    """The selected rows, on the worker's disk: written page by page, read back numbered."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / SPOOL_FILE
        self._out = self.path.open("w", encoding="utf-8")
        self.columns: list[str] | None = None
        self._keys: list[str] = []
        self._phone_column = ""
        self.rows = 0
        self.numeric_phone = False

    def set_columns(self, names: Sequence[str]) -> None:
        """The result's column names, once, before any row.

        Raises:
            ContactSourceError: no ``phone_number`` column, or one field named twice.
        """
        shown = [str(n) for n in names]
        keys = [contact_key(n) for n in shown]
        found = ", ".join(repr(n) for n in shown[:_SHOWN_COLUMNS]) or "none"
        if len(shown) > _SHOWN_COLUMNS:
            found += f", ... ({len(shown)} in all)"
        if PHONE_COLUMN not in keys:
            raise ContactSourceError(
                f"the query's result has no {PHONE_COLUMN} column (columns found: {found}); "
                f"name the column that holds the numbers {PHONE_COLUMN}, e.g. "
                f"SELECT mobile AS {PHONE_COLUMN}, ..."
            )
        twice = sorted(
            key
            for key, count in Counter(keys).items()
            if count > 1 and (key in CONTACT_FIELDS or key.split(".")[0] == "context")
        )
        if twice:
            raise ContactSourceError(
                f"the query's result names {', '.join(twice)} more than once (columns found: "
                f"{found}); keep one column per field"
            )
        self.columns = shown
        self._keys = keys
        self._phone_column = shown[keys.index(PHONE_COLUMN)]

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows as value sequences in the order of :attr:`columns`."""
        phone = self._keys.index(PHONE_COLUMN)
        for values in rows:
            if _is_number(values[phone]):
                self.numeric_phone = True
            record = dict(zip(self._keys, values, strict=False))
            self._out.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
            self.rows += 1

    def restart(self) -> None:
        """Forget every row written: the reader starts the result over."""
        self._out.seek(0)
        self._out.truncate()
        self.rows = 0
        self.numeric_phone = False

    def close(self) -> None:
        self._out.close()

    def warnings(self) -> list[str]:
        """What the person who wrote the query should know about its result."""
        found: list[str] = []
        if self.numeric_phone:
            found.append(integer_phone_hint(self._phone_column))
        if self.rows == 0:
            found.append("the query selected no rows: nobody to call")
        return found


def numbered_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """A spool's rows as ``(position, row)``, position 1-based in the result, read as asked
    for (as :class:`casey_flows.campaign.contacts.ContactStream` takes them)."""
    with path.open(encoding="utf-8") as lines:
        for position, line in enumerate(lines, start=1):
            yield position, json.loads(line)


def spool_phone_numbers(path: Path) -> Iterator[str]:
    """A spool's ``phone_number`` values as written, blanks left out (numbers as text)."""
    for _, row in numbered_rows(path):
        value = row.get(PHONE_COLUMN)
        text = value if isinstance(value, str) else "" if value is None else str(value)
        if text.strip():
            yield text
