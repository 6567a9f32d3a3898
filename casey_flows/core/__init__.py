"""What the Prefect tasks, the campaign engine and the dlt source share, with no Prefect in it.

- ``casey_flows.core.dispatch``: dispatch keys, the call list read as the ledger of what was
  dialled, the rule for re-dialling a create the list does not show.
- ``casey_flows.core.waiting``: watching calls until they end (polls, sweeps, back-off).

Nothing here imports Prefect (a test holds it to that), so the warehouse's dlt source runs in any
dlt pipeline without it.
"""
