"""Prefect blocks of casey-flows. Register with ``prefect block register -m casey_flows.blocks``."""

from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME, CaseyCredentials, resolve_credentials

__all__ = ["DEFAULT_BLOCK_NAME", "CaseyCredentials", "resolve_credentials"]
