"""This project's deployable pipelines, built from the library's tasks and flows.

``deployments/prefect.yaml`` points here for the project's own flows and straight into the
installed library (``casey_flows.flows...``) for ``place_call``, ``call_campaign``,
``campaign_status`` and ``call_report``.
"""
