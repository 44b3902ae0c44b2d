"""Compressing answers for clients that accept it (`Accept-Encoding`): brotli or gzip.

One layer around everything the gateway answers, so proxied calls, streamed exports and its own
routes (the merged OpenAPI, the docs' assets) are all covered, and the services never spend CPU
on it (their answers travel over loopback). Figures behind the choices: docs/gateway.md#compression.

- **What:** text media only — JSON (`application/json`, `…+json`: problems too), CSV, HTML, CSS,
  JavaScript, SVG, XML — of at least `EAGLET_COMPRESS_MIN_BYTES` (1 KiB), or streamed (no
  length: an export). Never an answer that already has a `Content-Encoding` (never twice), never
  other media (an XLSX is a zip file already; images, archives), never `Cache-Control:
  no-transform`, never a 204, a 304 or a 1xx. A compressible answer says `Vary:
  Accept-Encoding` whether or not this client took the compressed form.
- **Which:** the client's most preferred of `br` and `gzip` (q-values honoured; `*` counts;
  `x-gzip` is gzip; ties go to br, smaller at the same CPU). A header that cannot be read picks
  nothing: the answer goes out as it is.
- **How:** a whole body in one go (in a worker thread above `THREAD_ABOVE`, so a large page does
  not hold the event loop); a stream chunk by chunk, each flushed, so a slow export still reaches
  the client as it is written.
- **Entity tags:** the compressed bytes are another representation, so a strong `ETag: "t"`
  becomes `"t-gzip"` (or `"t-br"`); `If-None-Match` and `If-Match` lose that suffix on the way in,
  so the services compare their own tags, and a 304 repeats the tag the client holds.
- **HEAD:** the headers the GET would have (`Content-Encoding`, the tag), without a length.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from typing import Any

import brotli
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.vary import add_vary

GZIP_LEVEL = 5  # docs/gateway.md#compression: past 5 the bytes barely shrink, the CPU grows
BROTLI_QUALITY = 4  # about gzip 5's CPU, smaller output
THREAD_ABOVE = 256 * 1024  # whole bodies above this are compressed off the event loop
_TEXT_MEDIA = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/xml",
        "image/svg+xml",
        "text/csv",
        "text/plain",
        "text/html",
        "text/css",
        "text/javascript",
        "text/markdown",
        "text/xml",
    }
)
_CODING = re.compile(r"^\s*([A-Za-z0-9*_.+-]{1,32})\s*(?:;\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?))?\s*$")
_PREFERENCE = ("br", "gzip")
_SUFFIXES = {"br": "-br", "gzip": "-gzip"}
# A tag with one of our suffixes, as it comes back in If-None-Match / If-Match.
_SUFFIXED = re.compile(rb'(W/)?"([\x21\x23-\x7e\x80-\xff]*?)-(?:gzip|br)"')


def chosen_coding(accept_encoding: str | None) -> str | None:
    """The content coding to use for this Accept-Encoding value (None: send it as it is)."""
    if not accept_encoding or len(accept_encoding) > 4096:
        return None
    q: dict[str, float] = {}
    for element in accept_encoding.split(","):
        if not element.strip():
            continue
        m = _CODING.match(element)
        if m is None:
            return None  # not an Accept-Encoding value: compress nothing rather than guess
        name = m.group(1).lower()
        name = "gzip" if name == "x-gzip" else name
        value = float(m.group(2)) if m.group(2) is not None else 1.0
        if value > 1.0:
            return None
        q[name] = value
    star = q.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in _PREFERENCE:
        value = q.get(coding, star)
        if value > best_q:
            best, best_q = coding, value
    return best


def compressible(headers: list[tuple[bytes, bytes]]) -> bool:
    media, encoded, no_transform = None, False, False
    for k, v in headers:
        k = k.lower()
        if k == b"content-type":
            media = v.split(b";", 1)[0].strip().lower().decode("latin-1")
        elif k == b"content-encoding":
            encoded = True
        elif k == b"cache-control" and b"no-transform" in v.lower():
            no_transform = True
    if media is None or encoded or no_transform:
        return False
    return media in _TEXT_MEDIA or media.endswith("+json")


class _Encoder:
    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "br":
            self._br = brotli.Compressor(quality=BROTLI_QUALITY)
        else:
            self._gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def chunk(self, data: bytes) -> bytes:
        """Compress `data` and flush, so what was sent so far can be decoded."""
        if self.coding == "br":
            return self._br.process(data) + self._br.flush()
        return self._gz.compress(data) + self._gz.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes = b"") -> bytes:
        if self.coding == "br":
            return self._br.process(data) + self._br.finish()
        return self._gz.compress(data) + self._gz.flush(zlib.Z_FINISH)


def compress(coding: str, body: bytes) -> bytes:
    if coding == "br":
        return brotli.compress(body, quality=BROTLI_QUALITY)
    return _Encoder("gzip").finish(body)


def _strip_suffixes(value: bytes, sent: dict[bytes, bytes]) -> bytes:
    def base(m: re.Match[bytes]) -> bytes:
        plain = (m.group(1) or b"") + b'"' + m.group(2) + b'"'
        sent[b'"' + m.group(2) + b'"'] = m.group(0)[len(m.group(1) or b"") :]
        return plain

    return _SUFFIXED.sub(base, value)


def _etag_for(headers: list[tuple[bytes, bytes]], coding: str) -> list[tuple[bytes, bytes]]:
    suffix = _SUFFIXES[coding].encode()
    out = []
    for k, v in headers:
        if k.lower() == b"etag" and v.startswith(b'"') and v.endswith(b'"') and len(v) >= 2:
            v = v[:-1] + suffix + b'"'  # a weak tag stays as it is: equivalence survives coding
        out.append((k, v))
    return out


class CompressionMiddleware:
    def __init__(self, app: ASGIApp, min_bytes: int) -> None:
        self.app = app
        self.min_bytes = min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = None
        sent_tags: dict[bytes, bytes] = {}  # a suffixed tag the client holds, by the service's tag
        rewritten = []
        for k, v in scope["headers"]:
            if k == b"accept-encoding":
                accept = v.decode("latin-1") if accept is None else f"{accept}, {v.decode('latin-1')}"
            elif k in (b"if-none-match", b"if-match") and b"-" in v:
                v = _strip_suffixes(v, sent_tags if k == b"if-none-match" else {})
            rewritten.append((k, v))
        if rewritten != scope["headers"]:
            scope["headers"] = rewritten  # in place: the layers outside read the same scope
        coding = chosen_coding(accept)
        head = scope["method"] == "HEAD"
        state: dict[str, Any] = {"start": None, "encoder": None, "passthrough": False}

        async def compressing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if status == 304 and sent_tags:
                    headers = [(k, sent_tags.get(v, v) if k.lower() == b"etag" else v) for k, v in headers]
                length = _length(headers)
                if (
                    status < 200
                    or status in (204, 304)
                    or not compressible(headers)
                    or (length is not None and length < self.min_bytes)
                ):
                    state["passthrough"] = True
                    await send({**message, "headers": headers})
                    return
                headers = add_vary(headers, b"Accept-Encoding")
                if coding is None:
                    state["passthrough"] = True
                    await send({**message, "headers": headers})
                    return
                if head:
                    state["passthrough"] = True
                    await send({**message, "headers": _encoded(headers, coding)})
                    return
                state["start"] = {**message, "headers": headers}
                return
            if message["type"] != "http.response.body" or state["passthrough"]:
                await send(message)
                return
            body = message.get("body", b"")
            more = message.get("more_body", False)
            start = state["start"]
            encoder: _Encoder | None = state["encoder"]
            if start is not None and not more:
                # the whole body at once
                state["start"] = None
                if len(body) < self.min_bytes:
                    await send(start)
                    await send(message)
                    return
                if len(body) > THREAD_ABOVE:
                    data = await asyncio.to_thread(compress, coding, body)
                else:
                    data = compress(coding, body)
                headers = _encoded(start["headers"], coding)
                headers.append((b"content-length", str(len(data)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": data})
                return
            if start is not None:
                state["start"] = None
                encoder = state["encoder"] = _Encoder(coding)
                await send({**start, "headers": _encoded(start["headers"], coding)})
            assert encoder is not None
            data = encoder.chunk(body) if more else encoder.finish(body)
            if data or not more:
                await send({"type": "http.response.body", "body": data, "more_body": more})

        await self.app(scope, receive, compressing_send)


def _length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for k, v in headers:
        if k.lower() == b"content-length":
            return int(v) if v.isdigit() else None
    return None


def _encoded(headers: list[tuple[bytes, bytes]], coding: str) -> list[tuple[bytes, bytes]]:
    """The headers of the compressed form: its coding and tag, no length (set by the caller when
    it is known)."""
    out = [(k, v) for k, v in _etag_for(headers, coding) if k.lower() != b"content-length"]
    out.append((b"content-encoding", coding.encode()))
    return out
