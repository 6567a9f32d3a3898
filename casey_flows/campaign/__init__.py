"""The campaign engine and what it plans with: contacts, calling windows, suppression, slots.

The ``call_campaign`` flow (``casey_flows.flows.campaign``) wraps it for Prefect.
"""
