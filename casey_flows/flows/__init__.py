"""The library's flows: one call, a campaign, a report. Run them, serve them, or call them as
subflows of your own flows."""

from casey_flows.flows.campaign import call_campaign
from casey_flows.flows.place_call import place_call
from casey_flows.flows.report import call_report

__all__ = ["call_campaign", "call_report", "place_call"]
