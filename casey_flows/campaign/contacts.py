"""Campaign contacts: load them from a list or a file, validate, normalise and deduplicate.

Pure input logic, no Prefect and no network, so it can be tested and reused on its own.

Decisions:

- Phone numbers. Read by :func:`casey_flows.campaign.phone_numbers.parse_phone`: formatting
  (whitespace, ``-``, ``.``, ``(``, ``)``) is allowed, ``+1 (415) 555-0123`` becomes
  ``+14155550123``, and only a number libphonenumber says is valid is accepted. Anything
  without a leading ``+`` is rejected, never guessed, unless the row's ``region`` column or the
  stream's ``default_region`` says which country's national format it is (``(202) 555-0100``
  in ``US``). Letters, extensions, non-ASCII digits and more than 15 digits are rejected too.
  The suppression list reads its numbers the same way, so both compare equal numbers.
- Masking. Every phone number that reaches an error, a repr or a message goes through
  :func:`casey_flows.client.mask_phone`; rejected values that merely look like numbers are
  masked too.
- Row numbers. ``ContactRejection.row`` is the row a person sees: for CSV the spreadsheet row
  (the header is row 1, the first data row is row 2; a quoted multi-line cell stays one row),
  for JSON and list input the 1-based position in the list, for JSONL the 1-based line.
- One rejection per invalid field, so a row can appear more than once in ``rejected``.
- Empty = absent: ``None`` and blank strings mean "no value"; fully blank CSV rows are skipped.
- Duplicates are rows whose normalised number was already accepted; the first one wins.
- Encoding. Files must be UTF-8 (a BOM is fine). Anything else raises ``ContactFileError``
  naming the file, line and byte offset: guessing Latin-1 or cp1252 silently corrupts names.
- Unknown columns/keys are ignored and reported once in ``ContactBatch.warnings``.
- Streaming. :class:`ContactStream` validates and dedupes rows as they are read, several
  sources in turn; CSV and JSONL are read row by row (``.json`` is one document, parsed
  whole). The dedupe keeps one integer per number, so a million rows cost ~70 MB, not the rows.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from casey_flows.campaign.calling_window import canonical_timezone
from casey_flows.campaign.phone_numbers import UNKNOWN, LineType, parse_phone, region_code
from casey_flows.campaign.sources import FileSource
from casey_flows.client.phone import mask_phone
from casey_flows.exceptions import ContactFileError, InvalidPhoneNumber

_FIELDS = ("phone_number", "name", "participant_id", "timezone", "region")
_CONTEXT_PREFIX = "context."
# A value "looks like a phone number" when it is mostly digits: mask it wherever it shows up.
_PHONE_LIKE = re.compile(r"\+?[\d\s\-.()]{7,}")
_VALUE_PREVIEW = 40


def _preview(field: str, value: object) -> str:
    """A value safe to show a person: masked when it is or looks like a number, else short."""
    text = "" if value is None else str(value)
    if text and (field == "phone_number" or _PHONE_LIKE.search(text)):
        return mask_phone(text)
    return text if len(text) <= _VALUE_PREVIEW else text[: _VALUE_PREVIEW - 1] + "…"


class Contact(BaseModel):
    """One person to call. ``phone_number`` is stored in E.164 form; reprs mask it.

    ``region`` is the country a national number is read in (see ``parse_phone``); ``line_type``
    is libphonenumber's for the number, set when it is read (whatever was passed for it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    phone_number: str = Field(
        description="E.164, e.g. +14155550123 (formatting is removed); a national format such "
        "as (202) 555-0100 with a region."
    )
    name: str | None = Field(default=None, max_length=200)
    participant_id: UUID | None = None
    timezone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Berlin.")
    context: dict[str, Any] = Field(default_factory=dict)
    region: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 region a number without + is read in, e.g. US.",
    )
    line_type: LineType = Field(default=UNKNOWN, description="libphonenumber's, e.g. mobile.")

    @model_validator(mode="before")
    @classmethod
    def _read_number(cls, data: Any) -> Any:
        """The number read once, in the row's region, into its E.164 form and its line type. A
        number that cannot be read is left to ``phone_number``'s validator to report (as that
        field's error), and a region that is no region code to ``region``'s."""
        if not isinstance(data, Mapping) or "phone_number" not in data:
            return data
        try:
            region = region_code(data.get("region"))
        except ValueError:
            region = None
        try:
            number = parse_phone(data["phone_number"], region)
        except InvalidPhoneNumber as exc:
            return {**data, "phone_number": exc}
        return {**data, "phone_number": number.e164, "line_type": number.line_type}

    @field_validator("phone_number", mode="before")
    @classmethod
    def _e164(cls, value: object) -> object:
        if isinstance(value, InvalidPhoneNumber):  # what _read_number could not read
            raise value
        return value

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> str | None:
        return region_code(value)

    @field_validator("name", "timezone", "participant_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        return None if value is None else canonical_timezone(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Context values may hold numbers or other personal data: show only the keys.
        yield "phone_number", mask_phone(self.phone_number)
        yield "name", self.name
        yield "participant_id", self.participant_id
        yield "timezone", self.timezone
        yield "region", self.region
        yield "line_type", self.line_type
        yield "context_keys", sorted(self.context)


class ContactRejection(BaseModel):
    """Why one field of one row was not accepted; ``value`` is already masked or shortened."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    row: int = Field(description="Spreadsheet row (CSV header = 1), else 1-based position.")
    field: str
    value: str
    message: str


class ContactBatch(BaseModel):
    """The outcome of loading contacts: who to call, who was rejected and why."""

    # Nested contacts are validated here too; their raw input must not reach an error text.
    model_config = ConfigDict(hide_input_in_errors=True)

    contacts: list[Contact] = Field(default_factory=list)
    rejected: list[ContactRejection] = Field(default_factory=list)
    duplicates: int = 0
    total_rows: int = 0
    warnings: list[str] = Field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        """Rows rejected (a row with two bad fields counts once)."""
        return len({r.row for r in self.rejected})

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A summary: a batch can hold 100,000 contacts, and a repr is for people.
        yield "contacts", len(self.contacts)
        yield "rejected", len(self.rejected)
        yield "duplicates", self.duplicates
        yield "total_rows", self.total_rows
        yield "warnings", len(self.warnings)


@lru_cache(maxsize=1024)
def _canonical_key(key: str) -> str | None:
    """Known field name, ``context.<key>`` (key case kept), or None for an unknown key."""
    stripped = key.strip()
    lowered = stripped.lower()
    if lowered in _FIELDS or lowered == "context":
        return lowered
    if lowered.startswith(_CONTEXT_PREFIX) and len(stripped) > len(_CONTEXT_PREFIX):
        return _CONTEXT_PREFIX + stripped[len(_CONTEXT_PREFIX) :]
    return None


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _set_path(context: dict[str, Any], dotted: str, value: object) -> None:
    """``a.b`` -> ``context["a"]["b"]``; raises ValueError when a path collides with a value."""
    *parents, leaf = dotted.split(".")
    node = context
    for part in parents:
        child = node.get(part, {})
        if not isinstance(child, Mapping):
            raise ValueError(f"context.{dotted} conflicts with the value of context.{part}")
        # Copy on the way down so a caller's nested `context` object is never mutated.
        copied = dict(child)
        node[part] = copied
        node = copied
    if isinstance(node.get(leaf), Mapping):
        raise ValueError(f"context.{dotted} conflicts with nested keys under it")
    node[leaf] = value


class RejectedRow(NamedTuple):
    """A row that is not a contact: one rejection per invalid field."""

    row: int
    rejections: list[ContactRejection]


class _Unreadable(NamedTuple):
    """A row a loader could not even read (e.g. a JSONL line that is not JSON)."""

    message: str


class _RowValidator:
    """One row in, a ``Contact`` or its rejections out: the single place rows are validated."""

    def __init__(self, default_timezone: str | None, default_region: str | None = None) -> None:
        self.default_timezone = canonical_timezone(default_timezone) if default_timezone else None
        self.default_region = region_code(default_region, field="default_region")
        self.unknown_keys: set[str] = set()

    def check(self, row: int, item: object) -> Contact | RejectedRow:
        if isinstance(item, Contact):
            if self.default_timezone and item.timezone is None:
                return item.model_copy(update={"timezone": self.default_timezone})
            return item
        if isinstance(item, Mapping):
            return self._mapping(row, item)
        if isinstance(item, _Unreadable):
            return _rejected(row, "row", "", item.message)
        kind = type(item).__name__
        return _rejected(row, "row", kind, f"expected an object with phone_number, got {kind!r}")

    def warnings(self) -> list[str]:
        if not self.unknown_keys:
            return []
        names = ", ".join(repr(_preview("", k)) for k in sorted(self.unknown_keys)[:20])
        return [f"ignored unknown columns: {names}"]

    def _mapping(self, row: int, mapping: Mapping[str, Any]) -> Contact | RejectedRow:
        fields: dict[str, Any] = {}
        context: dict[str, Any] = {}
        for key, value in mapping.items():
            canonical = _canonical_key(key) if isinstance(key, str) else None
            if canonical is None:
                self.unknown_keys.add(str(key))
            elif canonical == "context":
                if isinstance(value, Mapping):
                    context = {**value, **context}  # dotted keys win over the object
                elif not _is_blank(value):
                    fields["context"] = value  # not an object: let validation reject it
            elif canonical.startswith(_CONTEXT_PREFIX):
                if not _is_blank(value):
                    try:
                        _set_path(context, canonical[len(_CONTEXT_PREFIX) :], value)
                    except ValueError as exc:
                        return _rejected(row, canonical, value, str(exc))
            elif not _is_blank(value):
                fields[canonical] = value
        if context and "context" not in fields:
            fields["context"] = context
        if self.default_timezone and "timezone" not in fields:
            fields["timezone"] = self.default_timezone
        if self.default_region and "region" not in fields:
            fields["region"] = self.default_region
        try:
            return Contact.model_validate(fields)
        except ValidationError as exc:
            rejections = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "row"
                rejections += _rejected(row, field, fields.get(field), _reason(error)).rejections
            return RejectedRow(row, rejections)


def _rejected(row: int, field: str, value: object, reason: str) -> RejectedRow:
    shown = _preview(field, value)
    message = _message(row, field, shown, reason)
    return RejectedRow(row, [ContactRejection(row=row, field=field, value=shown, message=message)])


# A source's rows, numbered as a person sees them: (row, mapping or Contact).
NumberedRows = Iterable[tuple[int, object]]


class ContactStream:
    """Contacts from several sources, validated and deduplicated one row at a time.

    Iterating yields each valid, first-seen ``Contact`` and each ``RejectedRow`` as its row is
    read, so a source of any size costs memory for the numbers seen (an integer each, for
    the dedupe), not for the rows. Sources are read in order; a number in several is kept once,
    where first seen. The counts are final once the stream is exhausted (``exhausted``).
    """

    def __init__(
        self,
        sources: Iterable[NumberedRows],
        *,
        default_timezone: str | None = None,
        default_region: str | None = None,
        warnings: list[str] | None = None,
        known_rows: int | None = None,
    ) -> None:
        self._sources = sources
        # How many rows the sources hold, when each says so (a list, staged rows, a spooled
        # query; not a file): progress can then say "n of m" before the end.
        self.known_rows = known_rows
        self._validator = _RowValidator(default_timezone, default_region)
        self._seen: set[int] = set()
        # The list the sources' loaders append to (see file_rows).
        self._warnings = warnings if warnings is not None else []
        self.total_rows = 0
        self.duplicates = 0
        self.rejected_rows = 0
        self.contacts = 0
        self.exhausted = False
        self._items = self._read()

    @property
    def warnings(self) -> list[str]:
        """What the loaders said (empty file, no data rows) and the unknown columns."""
        return self._warnings + self._validator.warnings()

    def __iter__(self) -> Iterator[Contact | RejectedRow]:
        """The one pass over the sources: iterating again goes on where the last one stopped."""
        return self._items

    def _read(self) -> Iterator[Contact | RejectedRow]:
        for source in self._sources:
            for row, item in source:
                self.total_rows += 1
                checked = self._validator.check(row, item)
                if isinstance(checked, RejectedRow):
                    self.rejected_rows += 1
                    yield checked
                    continue
                number = int(checked.phone_number[1:])  # E.164: 15 digits fit 64 bits
                if number in self._seen:
                    self.duplicates += 1
                    continue
                self._seen.add(number)
                self.contacts += 1
                yield checked
        self.exhausted = True

    def collect(self) -> ContactBatch:
        """Every row read into a batch (for callers that want them all in memory)."""
        batch = ContactBatch()
        for item in self:
            if isinstance(item, RejectedRow):
                batch.rejected.extend(item.rejections)
            else:
                batch.contacts.append(item)
        batch.duplicates = self.duplicates
        batch.total_rows = self.total_rows
        batch.warnings = self.warnings
        return batch


def _message(row: int, field: str, shown: str, reason: str) -> str:
    """``row 3: timezone 'Mars/Base': unknown time zone``, without naming the value twice."""
    if not shown:
        return f"row {row}: {field} {reason}"
    if shown in reason:
        return f"row {row}: {field}: {reason}"
    return f"row {row}: {field} {shown!r}: {reason}"


def _reason(error: Mapping[str, Any]) -> str:
    """Pydantic's message without its prefix; our validators already mask what they show."""
    if error["type"] == "missing":
        return "is required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def parse_contacts(
    rows: Iterable[Mapping[str, Any] | Contact],
    *,
    default_timezone: str | None = None,
    default_region: str | None = None,
) -> ContactBatch:
    """Validate contacts given as mappings or ``Contact`` objects (e.g. a flow parameter).

    ``row`` in rejections is the 1-based position in ``rows``. ``default_region`` reads
    national numbers of rows without a ``region`` (None: every number needs its ``+``).
    """
    stream = ContactStream(
        [enumerate(rows, start=1)], default_timezone=default_timezone, default_region=default_region
    )
    return stream.collect()


def parse_rows(
    rows: NumberedRows, *, default_timezone: str | None = None, default_region: str | None = None
) -> ContactBatch:
    """Validate rows a source numbered itself: ``(row, mapping)``, e.g. the 1-based position in
    a query's result, or in a staged list across its parts. Keys are read like CSV headers."""
    stream = ContactStream([rows], default_timezone=default_timezone, default_region=default_region)
    return stream.collect()


def load_contacts_file(
    path: str | Path, *, default_timezone: str | None = None, default_region: str | None = None
) -> ContactBatch:
    """Load contacts from ``.csv``, ``.json`` (a list of objects) or ``.jsonl``: a local path or
    an fsspec URL (``s3://``, ``gs://``, ``file://``; see ``casey_flows.campaign.sources``).

    Row-level problems become rejections; file-level problems raise ``ContactFileError``.
    """
    warnings: list[str] = []
    rows = file_rows(path, warnings)
    stream = ContactStream(
        [rows], default_timezone=default_timezone, default_region=default_region, warnings=warnings
    )
    return stream.collect()


def file_rows(path: str | Path, warnings: list[str]) -> Iterator[tuple[int, object]]:
    """A contacts file's rows, numbered, read as they are asked for (``.json`` is one document:
    parsed whole). What a person should know about the file goes into ``warnings``.

    Raises:
        ContactFileError: an unsupported type, no ``phone_number`` column, a CSV error, invalid
            JSON, or bytes that are not UTF-8 (naming the line and offset), when reached.
    """
    source = FileSource(path)
    loaders = {".csv": _csv_rows, ".json": _json_rows, ".jsonl": _jsonl_rows}
    loader = loaders.get(source.suffix.lower())
    if loader is None:
        raise ContactFileError(f"{source.name}: unsupported file type; use .csv, .json or .jsonl")
    try:
        yield from loader(source, warnings)
    except UnicodeDecodeError:
        raise ContactFileError(utf8_error_message(source)) from None


def utf8_error_message(path: FileSource) -> str:
    """Locate the first byte that is not UTF-8, by line and offset, without loading the file."""
    offset = 0
    with path.open("rb") as raw:
        for line_number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = offset + exc.start
                return (
                    f"{path.name}: not valid UTF-8 at line {line_number}, byte offset {where} "
                    f"(byte 0x{line[exc.start]:02x}); save the file as UTF-8 and retry "
                    "(encodings such as Latin-1 are not guessed: that would corrupt names)"
                )
            offset += len(line)
    return f"{path.name}: not valid UTF-8"


def _csv_rows(path: FileSource, warnings: list[str]) -> Iterator[tuple[int, object]]:
    # newline="" lets csv handle quoted line breaks; utf-8-sig drops a BOM if there is one.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                warnings.append(f"{path.name} is empty: no header, no contacts")
                return
            columns = _csv_columns(path, header)
            data_rows = 0
            for row_number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                data_rows += 1
                yield row_number, dict(zip(columns, cells, strict=False))
        except csv.Error as exc:
            raise ContactFileError(
                f"{path.name}: CSV error near line {reader.line_num}: {exc}"
            ) from None
    if data_rows == 0:
        warnings.append(f"{path.name} has a header but no data rows")


def _csv_columns(path: FileSource, header: list[str]) -> list[str]:
    """Header cells as given, after checking phone_number is there exactly once."""
    keys = [_canonical_key(cell) for cell in header]
    found = ", ".join(repr(_preview("", cell)) for cell in header[:20])
    if "phone_number" not in keys:
        raise ContactFileError(f"{path.name}: no phone_number column; columns found: {found}")
    known = [key for key in keys if key is not None]
    if len(known) != len(set(known)):
        raise ContactFileError(f"{path.name}: a column appears twice; columns found: {found}")
    return header


def _json_rows(path: FileSource, warnings: list[str]) -> Iterator[tuple[int, object]]:
    with path.open(encoding="utf-8-sig") as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as exc:
            # JSONDecodeError's message names line/column only, never the document text.
            raise ContactFileError(f"{path.name}: invalid JSON: {exc}") from None
    if not isinstance(document, list):
        raise ContactFileError(f"{path.name}: expected a JSON list of contact objects")
    if not document:
        warnings.append(f"{path.name} holds an empty list: no contacts")
    yield from enumerate(document, start=1)


def _jsonl_rows(path: FileSource, warnings: list[str]) -> Iterator[tuple[int, object]]:
    rows = 0
    with path.open(encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            rows += 1
            try:
                yield line_number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_number, _Unreadable(f"is not valid JSON: {exc}")
    if rows == 0:
        warnings.append(f"{path.name} is empty: no contacts")
