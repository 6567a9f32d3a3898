"""The library's flows: one call, a campaign, a campaign's status, a report. Run them, serve
them, or call them as subflows of your own flows.

The flow modules evaluate their annotations (no ``from __future__ import annotations``), because
a run of ``flow.serve()`` receives the flow cloudpickled: ``Runner`` -> ``DirectSubprocessStarter``
-> ``prefect.flow_engine.run_flow_in_subprocess``. The module attribute ``place_call`` is the
``Flow``, not its function, so cloudpickle pickles ``flow.fn`` by value, keeping only the globals
its code uses. ``Flow.validate_parameters`` then resolves string annotations in that pruned
``fn.__globals__`` (``prefect._internal.pydantic.validated_func.ValidatedFunction``), where
``Annotated``, ``Field`` and the parameter types are missing: every served run failed with
"``Place_CallModel`` is not fully defined". Evaluated annotations travel with the function.

``sync_calls`` (``casey_flows.flows.sync``) resolves on first use: it needs dlt (the ``warehouse``
extra), and the other flows do not.
"""

from typing import TYPE_CHECKING

from casey_flows._extras import lazy_attributes
from casey_flows.flows.campaign import call_campaign
from casey_flows.flows.place_call import place_call
from casey_flows.flows.report import call_report
from casey_flows.flows.status import campaign_status

if TYPE_CHECKING:  # what the lazy name below is, for type checkers and IDEs
    from casey_flows.flows.sync import sync_calls as sync_calls

__all__ = ["call_campaign", "call_report", "campaign_status", "place_call", "sync_calls"]


__getattr__ = lazy_attributes(__name__, {"sync_calls": "casey_flows.flows.sync"})
