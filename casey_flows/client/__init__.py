"""A typed client of the Casey (tellcasey) backend API. No Prefect import here.

>>> from casey_flows.client import AsyncCaseyClient
>>> async with AsyncCaseyClient("sk_test_...", base_url="http://127.0.0.1:8765/v1/backend") as c:
...     call = await c.create_call("demo-outbound", "+14155550100", name="Ada")
"""

from casey_flows.client._base import USER_AGENT, __version__
from casey_flows.client._constants import DEFAULT_BASE_URL
from casey_flows.client.client import AsyncCaseyClient, CaseyClient
from casey_flows.client.conversations import (
    FINAL_CONVERSATION_STATUSES,
    Conversation,
    ConversationField,
    ConversationPage,
    TranscriptMessage,
)
from casey_flows.client.errors import (
    AmbiguousDispatchError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CaseyError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from casey_flows.client.models import Call, CallFields, CallRequest, Connection, MaskedPhoneRepr
from casey_flows.client.phone import E164_PATTERN, is_e164, mask_phone
from casey_flows.client.retry import RetryPolicy
from casey_flows.client.status import DEFAULT_TERMINAL_STATUSES, normalize_status

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TERMINAL_STATUSES",
    "E164_PATTERN",
    "FINAL_CONVERSATION_STATUSES",
    "USER_AGENT",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousDispatchError",
    "AsyncCaseyClient",
    "AuthenticationError",
    "Call",
    "CallFields",
    "CallRequest",
    "CaseyClient",
    "CaseyError",
    "ConflictError",
    "Connection",
    "Conversation",
    "ConversationField",
    "ConversationPage",
    "InvalidRequestError",
    "MaskedPhoneRepr",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "TranscriptMessage",
    "__version__",
    "is_e164",
    "mask_phone",
    "normalize_status",
]
