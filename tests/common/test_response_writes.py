"""A response of known length leaves in one socket write; streams and the wire format are as
uvicorn's own."""

from __future__ import annotations

import asyncio
import logging
import threading

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.flow_control import FlowControl

from services.common import response_writes
from services.common.response_writes import CoalescingCycle
from tests.support import free_port


class Recorder:
    """A transport that records what is written and whether it was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed_after: int | None = None

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed_after = len(self.writes)

    def is_closing(self) -> bool:
        return self.closed_after is not None


def cycle(transport: Recorder, keep_alive: bool = True) -> CoalescingCycle:
    scope = {"type": "http", "method": "GET", "path": "/", "http_version": "1.1", "headers": []}
    return CoalescingCycle(
        scope=scope,
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )


def start(length: bool = True) -> dict:
    headers = [(b"content-type", b"application/json")]
    if length:
        headers.append((b"content-length", b"2"))
    return {"type": "http.response.start", "status": 200, "headers": headers}


async def test_head_and_body_of_a_known_length_go_out_in_one_write():
    t = Recorder()
    c = cycle(t)
    await c.send(start())
    assert t.writes == []  # held for the body
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert len(t.writes) == 1
    assert t.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and t.writes[0].endswith(b"\r\n\r\n{}")


async def test_a_stream_without_length_sends_its_head_at_once():
    t = Recorder()
    c = cycle(t)
    await c.send(start(length=False))
    assert len(t.writes) == 1 and t.writes[0].endswith(b"transfer-encoding: chunked\r\n\r\n")
    await c.send({"type": "http.response.body", "body": b"{}", "more_body": True})
    await c.send({"type": "http.response.body", "body": b""})
    assert t.writes[1:] == [b"2\r\n{}\r\n", b"0\r\n\r\n"]


async def test_a_closing_connection_writes_the_held_response_before_closing():
    t = Recorder()
    c = cycle(t, keep_alive=False)
    await c.send(start())
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert len(t.writes) == 1 and t.writes[0].endswith(b"{}")
    assert t.closed_after == 1


async def test_nothing_is_written_to_a_client_that_went_away():
    t = Recorder()
    c = cycle(t)
    await c.send(start())
    c.disconnected = True
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert t.writes == []


@pytest.fixture(scope="module")
def server():
    """A real uvicorn server (httptools) with the coalescing cycle installed."""
    release = threading.Event()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-kind", b"stream")]})
            await asyncio.to_thread(release.wait, 10)
            await send({"type": "http.response.body", "body": b"late", "more_body": False})
            return
        body = b'{"ok":true}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    response_writes.install()
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, port=port, http="httptools", log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}", release
    release.set()
    srv.should_exit = True
    thread.join(5)


def test_responses_on_the_wire_are_complete_on_a_kept_alive_connection(server):
    url, _ = server
    with httpx.Client(base_url=url) as client:
        for _ in range(3):  # one connection, several responses
            r = client.get("/json")
            assert r.status_code == 200 and r.json() == {"ok": True}
            assert r.headers["content-length"] == "11"
        head = client.head("/json")
        assert head.status_code == 200 and head.content == b""


def test_a_streamed_response_shows_its_head_before_its_body(server):
    url, release = server
    with httpx.Client(base_url=url, timeout=5) as client, client.stream("GET", "/stream") as r:
        assert r.headers["x-kind"] == "stream"  # arrived while the body is still held back
        release.set()
        assert r.read() == b"late"
