"""HEAD wherever GET is (RFC 9110 §9.3.2): the GET's status and headers, no body.

FastAPI's routes take only the methods they are declared with, so a HEAD was a 405. This layer
routes a HEAD as the GET it mirrors — the same route, fast route, checks and problems, so the
headers are the GET's (`Content-Length`, `ETag`, …) — and sends no body. A streamed answer (an
export) is stopped as soon as its headers are out: the stream's `send` fails as for a client that
went away, so it gives back its connection at once instead of running to the end unread.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import REQUESTED_METHOD


class _HeadDone(OSError):
    """Raised by `send` once a HEAD's headers are out and the route sends more body."""


class HeadMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        inner = {**scope, "method": "GET", REQUESTED_METHOD: "HEAD"}
        finished = False

        async def head_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body" and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b""})
                if message.get("more_body", False):
                    raise _HeadDone
            elif message.get("more_body", False):
                raise _HeadDone

        try:
            await self.app(inner, receive, head_send)
        except (_HeadDone, ClientDisconnect):
            if not finished:
                raise
        finally:
            if "route" in inner:  # the metrics and the access log name the GET's route
                scope["route"] = inner["route"]
