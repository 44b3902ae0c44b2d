"""A streamed download whose client must keep reading, and that always gives back what it holds.

uvicorn's `send` waits for the socket to drain when the client does not read (flow control), so a
client that stops reading — a stalled browser tab, a script that never consumes the body — would
hold the stream, and whatever the stream holds (an export's connection and cursor), for as long
as its TCP connection lives. Each `send` of a `DownloadResponse` is therefore bounded by a send
timeout: a client that takes nothing for that long is dropped. The response then ends without
completing the body, uvicorn closes the connection (the client sees a truncated chunked body) and
`on_close` runs. It also runs when the client disconnects, when the body raises, and after a
normal end: the body iterators are closed first (innermost last), then `on_close` is awaited.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("eaglet.streaming")


class ClientStalled(Exception):
    """The client took no data for the send timeout."""


class DownloadResponse(StreamingResponse):
    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        send_timeout_s: float,
        on_close: Callable[[], Awaitable[None]],
        inner: Sequence[AsyncIterator[Any]] = (),
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.send_timeout_s = send_timeout_s
        self.on_close = on_close
        self.inner = tuple(inner)  # iterators `content` reads from: closed after it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        timeout = self.send_timeout_s

        async def bounded_send(message: Message) -> None:
            try:
                async with asyncio.timeout(timeout):
                    await send(message)
            except TimeoutError:
                raise ClientStalled from None

        try:
            await super().__call__(scope, receive, bounded_send)
        except ClientStalled:
            log.warning(
                "download dropped: the client took no data for %s s", timeout, extra={"path": scope["path"]}
            )
        finally:
            try:
                for iterator in (self.body_iterator, *self.inner):
                    aclose = getattr(iterator, "aclose", None)
                    if aclose is not None:
                        await aclose()
            finally:
                await self.on_close()
