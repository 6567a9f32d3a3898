"""What the Prefect server accepts as a run's parameters, checked before it is asked.

The server refuses a run whose parameters, as compact JSON, are larger than its setting
``server.api.max_parameter_size`` (``PREFECT_SERVER_API_MAX_PARAMETER_SIZE``, 524,288 bytes by
default, 0 = no cap; prefect/_internal/schemas/validators.py): a bare HTTP 422, before any code
of ours runs, whose text quotes the whole request (every contact's number and name). So runs are
measured here first, the server's way, and refused with a message that says what to do instead.

``call_campaign`` and ``campaign_status`` are :class:`CappedFlow` s: called directly or as a
subflow, an oversized call fails before any request. Runs created by ``run_deployment`` or the
UI go straight to the server and cannot be checked here: stage the contacts
(``casey_flows.stage_contacts``) and pass the small reference.
"""

# Evaluated annotations, like the flow modules that use them (see casey_flows/flows/__init__.py).
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from prefect import Flow
from prefect.settings import get_current_settings
from prefect.utilities.callables import get_call_parameters
from pydantic_core import to_jsonable_python
from typing_extensions import ParamSpec

from casey_flows.exceptions import ParametersTooLarge

P = ParamSpec("P")
R = TypeVar("R")

# Prefect's own default, for the docs and tests; the cap in force is max_parameter_bytes().
PARAMETERS_MAX_BYTES = 512 * 1024
_WHAT_TO_DO = (
    "stage the contacts with casey_flows.stage_contacts(rows) and pass the reference it returns "
    "as staged_contacts, or write them to a file every worker can read (a shared path, or an "
    "s3://, gs:// or file:// URL) and pass it as contacts_file"
)


def max_parameter_bytes() -> int:
    """The cap the Prefect server applies, from this process's Prefect settings (set
    ``PREFECT_SERVER_API_MAX_PARAMETER_SIZE`` here too if your server's differs); 0 = none."""
    return get_current_settings().server.api.max_parameter_size


def parameters_size(parameters: dict[str, Any]) -> int:
    """Bytes of ``parameters`` as the server measures them: the JSON it receives, re-dumped
    compact (``json.dumps(..., separators=(",", ":"))``, ASCII-escaped)."""
    jsonable = to_jsonable_python(parameters, fallback=str)
    return len(json.dumps(jsonable, separators=(",", ":")).encode())


def check_parameters_fit(parameters: dict[str, Any], *, what: str = "the run") -> None:
    """Refuse, with a message that says what to do, a run the Prefect server would refuse.

    The message names the sizes and the largest parameters, never their values.

    Raises:
        ParametersTooLarge: the parameters are over :func:`max_parameter_bytes`.
    """
    cap = max_parameter_bytes()
    if cap <= 0 or not parameters:  # the server's own exceptions
        return
    size = parameters_size(parameters)
    if size <= cap:
        return
    sizes = sorted(((parameters_size({k: v}), k) for k, v in parameters.items()), reverse=True)
    largest = ", ".join(f"{name} {n:,} bytes" for n, name in sizes[:2])
    raise ParametersTooLarge(
        f"{what}'s parameters are {size:,} bytes ({largest}); the Prefect server refuses more "
        f"than {cap:,} (PREFECT_SERVER_API_MAX_PARAMETER_SIZE): {_WHAT_TO_DO}"
    )


class CappedFlow(Flow[P, R], Generic[P, R]):
    """A ``Flow`` whose runs are measured against the server's parameter cap before they are
    created: an oversized call raises :class:`ParametersTooLarge` and sends nothing.

    Checked in ``__call__`` (before the subflow's tracking task run, the first request) and in
    ``serialize_parameters`` (what every run Prefect creates from a flow object passes through:
    the engine, ``InfrastructureBoundFlow``, workers' ``submit``). It raises even with
    ``return_state=True``: there is no run to give a state to. ``with_options`` keeps the
    class. Served runs receive it cloudpickled: the class pickles by reference.
    """

    # Flow.__call__ is five overloads (sync or async, with or without return_state); this one
    # wrapper stands for them all, so its signature matches none of them.
    def __call__(  # type: ignore[override]
        self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any
    ) -> Any:
        self.serialize_parameters(get_call_parameters(self.fn, args, kwargs))
        call: Callable[..., Any] = super().__call__  # every overload at once, as above
        return call(*args, return_state=return_state, wait_for=wait_for, **kwargs)

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        serialized = super().serialize_parameters(parameters)
        check_parameters_fit(serialized, what=f"{self.name} run")
        return serialized

    def with_options(self, **options: Any) -> "CappedFlow[P, R]":
        copy = super().with_options(**options)
        # Prefect builds a plain Flow from this one's attributes: same layout, so the copy can
        # take this class back, and keep the check.
        copy.__class__ = type(self)
        return cast("CappedFlow[P, R]", copy)  # its class, set on the line above


def capped_flow(**options: Any) -> Callable[[Callable[P, R]], CappedFlow[P, R]]:
    """``@flow(**options)``, making a :class:`CappedFlow`."""

    def decorate(fn: Callable[P, R]) -> CappedFlow[P, R]:
        return CappedFlow(fn=fn, **options)

    return decorate
