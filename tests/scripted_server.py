"""A scripted HTTP peer on 127.0.0.1 for wire-format and fault tests of the client.

It records every request exactly as it arrived and answers from a script, including answers no
well-behaved server gives on demand (a dropped connection mid-response, a stall past the
client's timeout). The sandbox covers behaviour; this covers the wire.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Reply:
    """One scripted answer. ``action`` "drop" cuts the body short; "stall" sleeps first."""

    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    stall_seconds: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ScriptedApp:
    """Raw ASGI app: pops the next Reply (or a default) and records the request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.default = Reply(200, {"data": []})

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append(
            Recorded(
                method=scope["method"],
                path=(scope.get("raw_path") or scope["path"].encode()).decode(),
                query=scope["query_string"].decode(),
                headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
                body=body,
            )
        )
        reply = self.script.popleft() if self.script else self.default
        if reply.stall_seconds:
            await asyncio.sleep(reply.stall_seconds)
        payload = reply.text.encode() if reply.text is not None else json.dumps(reply.body).encode()
        content_type = "text/plain" if reply.text is not None else "application/json"
        headers = [(b"content-type", content_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        headers.append(
            (b"content-length", str(len(payload) + 100 * (reply.action == "drop")).encode())
        )
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.action == "drop":
            await send({"type": "http.response.body", "body": payload[:5], "more_body": True})
            raise ConnectionAbortedError("scripted drop")
        await send({"type": "http.response.body", "body": payload})


@dataclass
class RunningServer:
    app: ScriptedApp
    root_url: str

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1/backend"


@contextmanager
def scripted_server() -> Iterator[RunningServer]:
    """Serve a fresh ScriptedApp on a free loopback port for the duration of the block."""
    app = ScriptedApp()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("scripted server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
