"""Serving a process: uvicorn with HTTP protocols whose parser-level refusals are problems too.

uvicorn answers a request its HTTP parser refuses — a malformed request line (a space, a raw
non-ASCII byte or a control character in the target), a malformed header, a body that breaks its
own framing — before any app sees it, with ``400 text/plain "Invalid HTTP request received."``.
The protocol subclasses here answer those as RFC 9457 problems, like every other error: code
``invalid_http_request``, a detail naming what the parser found, a request id (in the body, the
``X-Request-ID`` header and the log line), and ``Connection: close`` (the stream cannot be trusted
past the error).

Both parsers refuse a request head (request line and headers) larger than uvicorn's
``h11_max_incomplete_event_size`` (16 KiB by default): h11 does it itself, httptools has no such
limit, so one is kept here. Over it: 431 ``headers_too_large``.

A connection is closed the lingering way (as nginx's ``lingering_close``): when a process closes
a connection after answering — ``Connection: close``, a 413 while the upload is still arriving, a
parser refusal — it sends what it has, ends its side, then reads and discards whatever the client
still sends, closing once the client ends its side or after ``LINGER_S``. Closing at once would
leave unread bytes in the socket, and the kernel answers those with a reset that takes the
response with it: a client still writing its oversized upload would never read its 413.

Every process runs through ``serve`` (``eaglet serve <process>``): `eaglet up`, the container
image and the tests' live servers alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
from typing import Any

import uvicorn
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.errors import PROBLEM_JSON, HeadersTooLarge, InvalidHttpRequest, problem_body

log = logging.getLogger("eaglet.http")

# What the parser's complaint means for a caller; the parsers' own words follow in the detail.
HINT = (
    "the request is not valid HTTP/1.1 (spaces, control characters and non-ASCII characters in "
    "the path or query must be percent-encoded, as UTF-8)"
)
CODES = {p.status: p.code for p in (InvalidHttpRequest, HeadersTooLarge)}
PHRASES = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}


def refusal(status: int, reason: str, server_headers: list[tuple[bytes, bytes]] = ()) -> bytes:
    """The bytes of a problem response to a request the parser refused (then the connection closes)."""
    rid = secrets.token_hex(16)
    status = status if status in CODES else 400
    detail = reason if status != 400 else f"{HINT}: {reason}" if reason else HINT
    body = problem_body(status, CODES[status], detail)
    body["request_id"] = rid
    payload = json.dumps(body, ensure_ascii=False).encode()
    log.warning(
        "request refused by the HTTP parser", extra={"request_id": rid, "status": status, "reason": reason}
    )
    head = [b"HTTP/1.1 %d %s\r\n" % (status, PHRASES[status])]
    head.extend(name + b": " + value + b"\r\n" for name, value in server_headers)
    head.append(b"content-type: " + PROBLEM_JSON.encode() + b"\r\n")
    head.append(b"content-length: %d\r\n" % len(payload))
    head.append(b"x-request-id: " + rid.encode() + b"\r\n")
    head.append(b"connection: close\r\n\r\n")
    return b"".join(head) + payload


def head_limit(config: uvicorn.Config) -> int:
    """The largest request head (request line and headers) a process reads, in bytes."""
    return config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE


def _reason(exc: BaseException | None) -> str:
    """The parser's complaint, as a caller may read it (first line, bounded)."""
    if exc is None:
        return ""
    cause = exc.__cause__ or exc.__context__
    text = str(cause if isinstance(cause, _HeadTooLarge) else exc) or type(exc).__name__
    return text.splitlines()[0][:200] if text else ""


class _HeadTooLarge(Exception):
    pass


# How long a closing connection keeps reading what the client still sends, at most, in seconds.
LINGER_S = 2.0


class LingeringTransport:
    """The protocol's view of its transport: ``close`` lingers (module docstring); the rest is
    the transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self.lingering = False
        self.write = transport.write  # the hot path: no attribute forwarding per write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        t = self._transport
        if self.lingering or t.is_closing() or not t.can_write_eof():
            t.close()
            return
        self.lingering = True
        t.write_eof()  # after what is buffered: the client reads the whole answer, then EOF
        t.resume_reading()  # a paused upload must drain, or its bytes are never read
        self._loop.call_later(LINGER_S, t.close)


class LingeringClose:
    """Mixed into a uvicorn protocol: its transport closes the lingering way."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(LingeringTransport(transport, asyncio.get_running_loop()))  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self.transport.lingering:  # type: ignore[attr-defined]
            return  # what a closing connection still receives is discarded
        super().data_received(data)  # type: ignore[misc]

    def eof_received(self) -> None:
        if self.transport.lingering:  # type: ignore[attr-defined]
            self.transport.close()  # type: ignore[attr-defined]
            return
        super().eof_received()  # type: ignore[misc]


class ProblemH11Protocol(LingeringClose, H11Protocol):
    """uvicorn's h11 protocol; its refusals are problems (h11's own status hint: 400 or 431)."""

    def send_400_response(self, msg: str) -> None:
        exc = sys.exception()  # called from inside uvicorn's `except h11.RemoteProtocolError`
        status = getattr(exc, "error_status_hint", 400)
        reason = _reason(exc)
        if status == 431:
            reason = f"the request line and headers exceed {head_limit(self.config)} bytes"
        self.transport.write(refusal(status, reason, self.server_state.default_headers))
        self.transport.close()


class ProblemHttpToolsProtocol(LingeringClose, HttpToolsProtocol):
    """uvicorn's httptools protocol; its refusals are problems, and its request head is bounded."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.head_limit = head_limit(config)
        self.head_size = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.head_limit:
            raise _HeadTooLarge(f"the request line and headers exceed {self.head_limit} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_size += len(name) + len(value) + 4
        if len(self.url) + self.head_size > self.head_limit:
            raise _HeadTooLarge(f"the request line and headers exceed {self.head_limit} bytes")

    def send_400_response(self, msg: str) -> None:
        exc = sys.exception()  # called from inside uvicorn's `except httptools.HttpParserError`
        cause = exc.__context__ if exc is not None else None
        status = 431 if isinstance(cause, _HeadTooLarge) else 400
        self.transport.write(refusal(status, _reason(exc), self.server_state.default_headers))
        self.transport.close()


PROTOCOLS: dict[str, type] = {"h11": ProblemH11Protocol, "httptools": ProblemHttpToolsProtocol}


def protocol(name: str = "auto") -> type:
    """The protocol class for uvicorn's ``--http`` name (``auto``: httptools when installed)."""
    if name == "auto":
        try:
            import httptools  # noqa: F401
        except ImportError:  # pragma: no cover - uvicorn[standard] brings it
            return ProblemH11Protocol
        return ProblemHttpToolsProtocol
    return PROTOCOLS[name]


def serve(app: str, *, host: str, port: int, http: str = "auto", **options: Any) -> None:
    """Run an app factory (``module:function``) with uvicorn and these protocols. WebSockets are
    off (eaglet has none): an ``Upgrade: websocket`` request is an ordinary HTTP request, not a
    bare ``403 text/plain`` from the WebSocket layer. uvicorn never rewrites the client address
    from ``X-Forwarded-*``: which proxies to believe is the gateway's decision."""
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        http=protocol(http),
        ws="none",
        proxy_headers=False,
        **options,
    )
