"""Before a campaign's first dial: a connection that cannot place calls fails the run, once.

What the API answers to a create on a connection that is not call_out is undocumented; if it
were a 400 or 422, every contact would end as its own ``error``. So the campaign reads the
connection first. Only a definite answer stops the run: a 404 or 401, or a ``channel_type`` that is
present and not call_out (which field marks call_out is itself undocumented; we read
``channel_type``). Anything else (no read access, no such field, a transient failure) lets the
run go on, and the first create says what is wrong.
"""

from __future__ import annotations

import logging

from casey_flows.client import AsyncCaseyClient, AuthenticationError, CaseyError, NotFoundError
from casey_flows.exceptions import NotACallOutConnection

logger = logging.getLogger(__name__)


async def ensure_call_out(client: AsyncCaseyClient, connection_code: str) -> None:
    try:
        connection = await client.get_connection(connection_code)
    except (NotFoundError, AuthenticationError):
        raise
    except CaseyError as exc:
        logger.warning(
            "could not read connection %r before dialling, going on: %s", connection_code, exc
        )
        return
    if connection.channel_type is not None and not connection.is_call_out:
        raise NotACallOutConnection(
            f"connection {connection_code!r} has channel_type {connection.channel_type!r}; "
            "outbound calls need a call_out connection"
        )
