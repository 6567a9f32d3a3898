"""Errors raised by casey-flows' tasks and flows, under one base class.

Catch :class:`CaseyFlowsError` for anything the flow layer decided; errors the API answered are
:class:`casey_flows.client.CaseyError`. Each class also keeps the standard base its callers
already catch (``TimeoutError``, ``ValueError``, ...).
"""

from __future__ import annotations


class CaseyFlowsError(Exception):
    """Base of every error the flow layer raises itself."""


class CallWaitTimeout(CaseyFlowsError, TimeoutError):
    """Stopped waiting; the calls named are still open (they were not cancelled)."""


class CallLost(CaseyFlowsError, RuntimeError):
    """The API stopped knowing the call (404 poll after poll); it may have rung: never re-dial."""


class CallOutcomeFailure(CaseyFlowsError, RuntimeError):
    """The call ended with an outcome the caller counts as failure."""


class NotACallOutConnection(CaseyFlowsError, ValueError):
    """The connection exists but cannot place outbound calls."""


class GlobalLimitMissing(CaseyFlowsError, RuntimeError):
    """The named Prefect global concurrency limit does not exist (strict: never run unlimited)."""


class CreateUnconfirmed(CaseyFlowsError, RuntimeError):
    """A create may have rung, the call list never showed it, and re-dialling is off."""


class LedgerScanIncomplete(CaseyFlowsError, RuntimeError):
    """The call list could not be read far enough back to prove what was already dialled."""


class ContactFileError(CaseyFlowsError, ValueError):
    """A contacts or suppression file cannot be read at all (not one bad row: the whole file)."""


class InvalidPhoneNumber(CaseyFlowsError, ValueError):
    """A value is not a phone number we can dial (the message carries a masked value)."""


class CampaignBusy(CaseyFlowsError, RuntimeError):
    """Another run holds the campaign's lease: it is dialling (or only just died). Never two."""


class ResumeLimitReached(CaseyFlowsError, RuntimeError):
    """A crashed campaign was resumed as often as allowed; a person should look now."""


class ParametersTooLarge(CaseyFlowsError, ValueError):
    """A run's parameters pass Prefect's cap: the server would refuse the run (stage the rows)."""


class StagedContactsError(ContactFileError):
    """Staged contacts cannot be read as they were staged: changed, deleted, or on another
    machine's local disk. The message names the reference, never a row."""


class SuppressionStale(CaseyFlowsError, RuntimeError):
    """The do-not-call list could not be re-read for too long: the campaign stops dialling."""


class ContactSourceError(CaseyFlowsError, RuntimeError):
    """A contacts query cannot be read: its block, the query, its columns, or the database."""


class LedgerUnavailable(CaseyFlowsError, RuntimeError):
    """Creates that may have dialled could not be confirmed: the call list kept failing."""


class WarehouseConfigError(CaseyFlowsError, ValueError):
    """The destination, its credentials or the database itself is not usable as configured."""


class CredentialsNotFound(CaseyFlowsError, ValueError):
    """No saved Casey Credentials block has the name given; the message says how to save one."""
