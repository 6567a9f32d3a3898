"""The warehouse's logger name: its warnings are forwarded to a flow run's log with
``casey_flows.run_logs.forwarded(WAREHOUSE_LOGGER, run_logger)``."""

WAREHOUSE_LOGGER = "casey_flows.warehouse"
