"""Which kinds of line a campaign dials, by libphonenumber's line type of each number.

A convenience to segment by, never a consent check: libphonenumber cannot tell US and Canadian
mobiles from landlines (both are ``fixed_line_or_mobile``) and knows nothing of porting (a
number moved from a landline to a mobile keeps its old type). So the filter errs towards not
dialling: ``never`` of ``mobile`` (or ``fixed_line``) also leaves out ``fixed_line_or_mobile``,
which may be one, while ``only`` dials the types it lists and nothing that merely may be one.
No Prefect here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from casey_flows.campaign.phone_numbers import LINE_TYPES, LineType

# A type that may be either of two: excluding either excludes it.
_EITHER: dict[LineType, frozenset[LineType]] = {
    "fixed_line_or_mobile": frozenset({"fixed_line", "mobile"}),
}


class LineTypes(BaseModel):
    """Dial only some line types, or never some (empty: every number is dialled)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Line types")

    only: list[LineType] = Field(
        default_factory=list,
        description="Dial only numbers of these line types (e.g. mobile). Empty: every type. "
        "US and Canadian numbers are fixed_line_or_mobile (libphonenumber cannot tell them "
        "apart): dialled only when that is listed.",
    )
    never: list[LineType] = Field(
        default_factory=list,
        description="Never dial numbers of these line types (e.g. mobile). mobile or "
        "fixed_line here also leaves out fixed_line_or_mobile, which may be either. A "
        "convenience, not a consent check: no porting data.",
    )

    @field_validator("only", "never", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        """``Mobile`` is ``mobile``; a type libphonenumber does not name is refused by name."""
        if not isinstance(value, list):
            return value
        spelled = [str(v).strip().lower().replace("-", "_").replace(" ", "_") for v in value]
        unknown = [v for v in spelled if v not in LINE_TYPES]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not a line type; use {', '.join(LINE_TYPES)}"
            )
        return spelled

    def exclusion(self, line_type: LineType) -> str | None:
        """Why a number of ``line_type`` is not dialled, or None when it may be."""
        if self.only and line_type not in self.only:
            return f"line type {line_type} is not in line_types.only ({', '.join(self.only)})"
        if not self.never:
            return None
        if line_type in self.never:
            return f"line type {line_type} is in line_types.never"
        overlap = sorted(_EITHER.get(line_type, frozenset()) & set(self.never))
        if overlap:
            return (
                f"line type {line_type} may be {' or '.join(overlap)}, which line_types.never "
                "excludes"
            )
        return None
