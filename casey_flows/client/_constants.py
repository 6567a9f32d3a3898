"""Client defaults, in one place: the clients, the retry policy and the credentials block read
them from here, so a client built from the block behaves like one built by hand."""

from __future__ import annotations

import httpx

DEFAULT_BASE_URL = "https://api.tellcasey.com/v1/backend"

# A slow answer is normal (the API dials); a slow connect means the host is not there.
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_TIMEOUT = httpx.Timeout(
    DEFAULT_READ_TIMEOUT_SECONDS, connect=DEFAULT_CONNECT_TIMEOUT_SECONDS
)

# Campaigns keep up to a few hundred requests in flight; httpx's default pool (20 kept alive)
# would reconnect all the time.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)

DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_RETRY_SECONDS = 60.0
DEFAULT_BACKOFF_BASE_SECONDS = 0.5
DEFAULT_BACKOFF_CAP_SECONDS = 8.0
DEFAULT_MAX_RETRY_AFTER_SECONDS = 60.0

# The list endpoint's documented maximum page size.
LIST_LIMIT_MAX = 100
