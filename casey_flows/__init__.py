"""casey-flows: run Casey AI phone calls from Prefect 3 flows.

The public API, importable from here::

    from casey_flows import CaseyCredentials, call_campaign, create_call, wait_for_call

Subpackages, one job each (dependencies point one way, top to bottom):

- ``casey_flows.flows``: the flows ``place_call``, ``call_campaign``, ``campaign_status``,
  ``call_report``, ``sync_calls``;
- ``casey_flows.warehouse``: the dlt source behind ``sync_calls`` (the ``warehouse`` extra);
- ``casey_flows.campaign``: the campaign engine, contacts (and staging them by reference:
  ``stage_contacts``), calling windows, suppression, limits;
- ``casey_flows.tasks``: the call tasks, dispatch keys and the ledger, waiting, events;
- ``casey_flows.blocks``: the ``CaseyCredentials`` block (the only place a key is read);
- ``casey_flows.client``: the typed HTTP client (no Prefect import);
- ``casey_flows.sandbox``: the local emulator of the Casey API (the ``sandbox`` extra).

Names resolve on first use, so importing the client or the sandbox does not import Prefect, and
Prefect's ``prefect.collections`` entry point (``casey_flows.blocks``) does not import the flows.
``prefect block register -m casey_flows`` finds the block here all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casey_flows import client as _client
from casey_flows._extras import lazy_attributes
from casey_flows.client import *  # noqa: F403 - the client's public names, re-exported

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from casey_flows.blocks import CaseyCredentials as CaseyCredentials
    from casey_flows.campaign.calling_window import CallingWindow as CallingWindow
    from casey_flows.campaign.line_types import LineTypes as LineTypes
    from casey_flows.campaign.models import CampaignResult as CampaignResult
    from casey_flows.campaign.models import ContactInput as ContactInput
    from casey_flows.campaign.models import ContactOutcome as ContactOutcome
    from casey_flows.campaign.outcomes import Outcome as Outcome
    from casey_flows.campaign.query import ContactsQuery as ContactsQuery
    from casey_flows.campaign.staging import StagedContacts as StagedContacts
    from casey_flows.campaign.staging import astage_contacts as astage_contacts
    from casey_flows.campaign.staging import stage_contacts as stage_contacts
    from casey_flows.core.waiting import WaitPolicy as WaitPolicy
    from casey_flows.core.waiting import WaitResult as WaitResult
    from casey_flows.exceptions import CallLost as CallLost
    from casey_flows.exceptions import CallOutcomeFailure as CallOutcomeFailure
    from casey_flows.exceptions import CallWaitTimeout as CallWaitTimeout
    from casey_flows.exceptions import CampaignBusy as CampaignBusy
    from casey_flows.exceptions import CaseyFlowsError as CaseyFlowsError
    from casey_flows.exceptions import ContactFileError as ContactFileError
    from casey_flows.exceptions import ContactSourceError as ContactSourceError
    from casey_flows.exceptions import CreateUnconfirmed as CreateUnconfirmed
    from casey_flows.exceptions import CredentialsNotFound as CredentialsNotFound
    from casey_flows.exceptions import GlobalLimitMissing as GlobalLimitMissing
    from casey_flows.exceptions import InvalidPhoneNumber as InvalidPhoneNumber
    from casey_flows.exceptions import LedgerScanIncomplete as LedgerScanIncomplete
    from casey_flows.exceptions import LedgerUnavailable as LedgerUnavailable
    from casey_flows.exceptions import NotACallOutConnection as NotACallOutConnection
    from casey_flows.exceptions import ParametersTooLarge as ParametersTooLarge
    from casey_flows.exceptions import ResumeLimitReached as ResumeLimitReached
    from casey_flows.exceptions import StagedContactsError as StagedContactsError
    from casey_flows.exceptions import SuppressionStale as SuppressionStale
    from casey_flows.exceptions import WarehouseConfigError as WarehouseConfigError
    from casey_flows.flows import call_campaign as call_campaign
    from casey_flows.flows import call_report as call_report
    from casey_flows.flows import campaign_status as campaign_status
    from casey_flows.flows import place_call as place_call
    from casey_flows.flows.campaign_options import CallLimits as CallLimits
    from casey_flows.flows.campaign_options import CallRetries as CallRetries
    from casey_flows.flows.campaign_options import CampaignExports as CampaignExports
    from casey_flows.flows.campaign_options import CrashResume as CrashResume
    from casey_flows.flows.campaign_options import ExactlyOnceSafety as ExactlyOnceSafety
    from casey_flows.flows.campaign_options import Suppression as Suppression
    from casey_flows.flows.sync import sync_calls as sync_calls
    from casey_flows.tasks import create_call as create_call
    from casey_flows.tasks import get_call as get_call
    from casey_flows.tasks import list_calls as list_calls
    from casey_flows.tasks import wait_for_call as wait_for_call
    from casey_flows.tasks import wait_for_calls as wait_for_calls

_ERRORS = (
    "CampaignBusy",
    "CallLost",
    "CallOutcomeFailure",
    "CallWaitTimeout",
    "CaseyFlowsError",
    "ContactFileError",
    "ContactSourceError",
    "CreateUnconfirmed",
    "GlobalLimitMissing",
    "InvalidPhoneNumber",
    "LedgerScanIncomplete",
    "NotACallOutConnection",
    "ParametersTooLarge",
    "ResumeLimitReached",
    "SuppressionStale",
    "StagedContactsError",
    "LedgerUnavailable",
    "WarehouseConfigError",
    "CredentialsNotFound",
)
# Everything above the client resolves on first use (it imports Prefect).
_WHERE: dict[str, str] = {
    "CaseyCredentials": "casey_flows.blocks",
    "CallingWindow": "casey_flows.campaign.calling_window",
    "CampaignResult": "casey_flows.campaign.models",
    "ContactInput": "casey_flows.campaign.models",
    "ContactOutcome": "casey_flows.campaign.models",
    "LineTypes": "casey_flows.campaign.line_types",
    "Outcome": "casey_flows.campaign.outcomes",
    **dict.fromkeys(
        ("StagedContacts", "astage_contacts", "stage_contacts"), "casey_flows.campaign.staging"
    ),
    "ContactsQuery": "casey_flows.campaign.query",
    **dict.fromkeys(_ERRORS, "casey_flows.exceptions"),
    **dict.fromkeys(
        ("call_campaign", "call_report", "campaign_status", "place_call"), "casey_flows.flows"
    ),
    **dict.fromkeys(
        ("create_call", "get_call", "list_calls", "wait_for_call", "wait_for_calls"),
        "casey_flows.tasks",
    ),
    **dict.fromkeys(
        (
            "CallLimits",
            "CampaignExports",
            "CrashResume",
            "ExactlyOnceSafety",
            "CallRetries",
            "Suppression",
        ),
        "casey_flows.flows.campaign_options",
    ),
    "sync_calls": "casey_flows.flows.sync",
    "WaitPolicy": "casey_flows.core.waiting",
    "WaitResult": "casey_flows.core.waiting",
}

__all__ = [*_client.__all__, *_WHERE]


__getattr__ = lazy_attributes(__name__, _WHERE)


def __dir__() -> list[str]:
    return __all__
