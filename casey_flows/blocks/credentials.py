"""The Casey credentials block: the only place a Casey API key is read.

Flows and tasks take the block (or its name), never the key, so the key stays out of
parameters, logs and the UI. Shaped like ``SlackCredentials`` in prefect-slack.
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, HttpUrl, SecretStr, field_validator

from casey_flows.client import DEFAULT_BASE_URL, AsyncCaseyClient, CaseyClient, RetryPolicy
from casey_flows.client._base import check_base_url
from casey_flows.client._constants import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
)
from casey_flows.exceptions import CredentialsNotFound

DEFAULT_BLOCK_NAME = "casey"


class CaseyCredentials(Block):
    """Credentials and connection settings for the Casey backend API.

    Example:
        Load saved credentials and place a call (in async code, `await CaseyCredentials.aload`
        and `async with credentials.get_client()`):
        ```python
        from casey_flows.blocks import CaseyCredentials

        credentials = CaseyCredentials.load("BLOCK_NAME")
        with credentials.get_sync_client() as client:
            call = client.create_call("my-connection", "+14155550100")
        ```
    """

    _block_type_name = "Casey Credentials"
    _block_type_slug = "casey-credentials"
    _description = "API key and settings for the Casey (tellcasey) AI voice-agent API."
    _documentation_url = HttpUrl("https://developers.tellcasey.com/docs/api/reference/")
    # Prefect's own generic webhook logo, pinned to a commit (no Casey logo is published yet).
    _logo_url = HttpUrl(
        "https://raw.githubusercontent.com/PrefectHQ/prefect/420d0d6a78bb6df1fc18bcf188fdad43c1d22ea9/assets/block-logos/webhook.png"
    )

    api_key: SecretStr = Field(
        default=...,
        title="API key",
        description="Casey backend API key (sk_live_... or sk_test_...). Stored encrypted.",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description="API base URL. Plain http:// is accepted only for loopback (the sandbox).",
    )
    timeout_seconds: float = Field(
        default=DEFAULT_READ_TIMEOUT_SECONDS,
        gt=0,
        description=(
            f"How long to wait for an answer, in seconds "
            f"(connecting gives up after {DEFAULT_CONNECT_TIMEOUT_SECONDS:g} s)."
        ),
    )
    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES,
        ge=0,
        le=20,
        description="Retries of a failed read or refused request.",
    )
    max_retry_seconds: float = Field(
        default=DEFAULT_MAX_RETRY_SECONDS,
        gt=0,
        description="Wall-clock limit on the retries of one request.",
    )

    @field_validator("base_url")
    @classmethod
    def _safe_base_url(cls, value: str) -> str:
        return check_base_url(value)

    def _client_settings(self, max_requests_per_second: float | None) -> dict[str, Any]:
        policy = RetryPolicy(max_retries=self.max_retries, max_total_seconds=self.max_retry_seconds)
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "timeout": self.timeout_seconds,
            "retry_policy": policy,
            "max_requests_per_second": max_requests_per_second,
        }

    def get_client(self, *, max_requests_per_second: float | None = None) -> AsyncCaseyClient:
        """An async client configured from this block; use it with ``async with``.

        Args:
            max_requests_per_second: paces all of its requests (a campaign's share of the
                provider's rate limit); None sends as fast as answers come.

        Returns:
            An ``AsyncCaseyClient`` with this block's key, base URL, timeout and retries.
        """
        return AsyncCaseyClient(**self._client_settings(max_requests_per_second))

    def get_sync_client(self, *, max_requests_per_second: float | None = None) -> CaseyClient:
        """A blocking client configured from this block; use it with ``with``."""
        return CaseyClient(**self._client_settings(max_requests_per_second))


async def resolve_credentials(credentials: CaseyCredentials | str) -> CaseyCredentials:
    """The block itself, or the saved block of that name, with an error that says what to do."""
    if isinstance(credentials, CaseyCredentials):
        return credentials
    try:
        return await CaseyCredentials.aload(credentials)
    except ValueError as exc:
        raise CredentialsNotFound(
            f"no Casey credentials block named {credentials!r}: save one with "
            f"`casey-flows credentials save --name {credentials}` "
            "(reads CASEY_API_KEY and CASEY_BASE_URL), or in the Prefect UI under Blocks"
        ) from exc
