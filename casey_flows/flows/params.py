"""Flow parameters several flows share: one type, one description in every run form."""

# Evaluated annotations, like the flow modules that use them (see casey_flows/flows/__init__.py).
from typing import Annotated

from pydantic import Field

from casey_flows.exports import RAW_CELLS_HELP

CredentialsBlockName = Annotated[str, Field(description="Name of the Casey Credentials block.")]
ExportCsvPath = Annotated[str | None, Field(description="Write all outcomes to this CSV file.")]
ExportRawCells = Annotated[bool, Field(description=RAW_CELLS_HELP)]
ExportFullNumbers = Annotated[
    bool, Field(description="Full numbers in the CSV export (masked otherwise).")
]
