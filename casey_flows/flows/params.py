"""What the Prefect server accepts as a run's parameters, checked before it is asked."""

# Evaluated annotations, like the flow modules that use them (see casey_flows/flows/__init__.py).
import json
from typing import Any

from casey_flows.exceptions import ParametersTooLarge

# The Prefect server refuses a run whose parameters, as compact JSON, are larger than this
# (its default ``server.api.max_parameter_size``, prefect/_internal/schemas/validators.py), when
# the run is created: before any code of ours runs, as a bare HTTP 422.
PARAMETERS_MAX_BYTES = 512 * 1024


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
