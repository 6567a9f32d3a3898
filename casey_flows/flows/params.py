"""Flow parameters several flows share: one type, one description in every run form."""

# Evaluated annotations, like the flow modules that use them (see casey_flows/flows/__init__.py).
import json
from typing import Annotated, Any

from pydantic import Field

from casey_flows.exceptions import ParametersTooLarge
from casey_flows.exports import RAW_CELLS_HELP

# The Prefect server refuses a run whose parameters, as compact JSON, are larger than this
# (its default ``server.api.max_parameter_size``, prefect/_internal/schemas/validators.py), when
# the run is created: before any code of ours runs, as a bare HTTP 422.
PARAMETERS_MAX_BYTES = 512 * 1024
CONTACTS_HELP = (
    "Contacts to call (or use contacts_file). Prefect caps a run's parameters at 512 KB, "
    "about 15,000 contacts: above that, pass contacts_file."
)
CONTACTS_FILE_HELP = (
    "CSV, JSON or JSONL file of contacts: a path, or a URL every worker can read "
    "(s3://, gs://, file://)."
)

CredentialsBlockName = Annotated[str, Field(description="Name of the Casey Credentials block.")]
ExportCsvPath = Annotated[str | None, Field(description="Write all outcomes to this CSV file.")]
ExportRawCells = Annotated[bool, Field(description=RAW_CELLS_HELP)]
ExportFullNumbers = Annotated[
    bool, Field(description="Full numbers in the CSV export (masked otherwise).")
]


def check_parameters_fit(parameters: dict[str, Any], *, what: str = "the run") -> None:
    """Refuse, with a message that says what to do, a run the Prefect server would refuse.

    Raises:
        ParametersTooLarge: the parameters are over PARAMETERS_MAX_BYTES as compact JSON.
    """
    size = len(json.dumps(parameters, separators=(",", ":"), default=str).encode())
    if size > PARAMETERS_MAX_BYTES:
        raise ParametersTooLarge(
            f"{what}'s parameters are {size:,} bytes; Prefect refuses more than "
            f"{PARAMETERS_MAX_BYTES:,}: write the contacts to a file every worker can read (a "
            "shared path, or an s3://, gs:// or file:// URL) and pass it as contacts_file"
        )
