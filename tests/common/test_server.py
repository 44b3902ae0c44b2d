"""Requests the HTTP parser refuses are problems too, on every process and with either parser."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from services.common.server import PROTOCOLS, protocol
from tests.support import free_port, raw_request

PROBLEM = "application/problem+json"

# (what is wrong, the request's bytes as a careless client might send them)
MALFORMED = (
    ("a space in the target", b"GET /v1/standards/T/ZZB 0001-2023 HTTP/1.1\r\nHost: x\r\n\r\n"),
    (
        "raw UTF-8 in the target",
        "GET /v1/public/certifications/浙品0001 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    ),
    ("a control character in the target", b"GET /v1/whoami\x01 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("a space in a header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n"),
    ("a newline in a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n"),
    ("not HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
    (
        "a broken chunked body",
        b"POST /v1/public/certifications/lookup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ),
)


def assert_refused(r, status: int, code: str, what: str) -> None:
    assert r.status == status, (what, r.status, r.body[:300])
    assert r.headers["content-type"] == PROBLEM, (what, r.headers)
    problem = r.json()
    assert problem["status"] == status and problem["code"] == code, (what, problem)
    assert problem["detail"] and problem["title"], what
    assert problem["request_id"] == r.headers["x-request-id"], what
    assert r.headers["connection"] == "close", what


async def echo_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


@pytest.fixture(params=sorted(PROTOCOLS))
def parser_server(request):
    """A uvicorn server (in a thread) with one of the kit's protocols in front of a tiny app."""
    port = free_port()
    config = uvicorn.Config(
        echo_app, host="127.0.0.1", port=port, http=PROTOCOLS[request.param], log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    yield request.param, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_both_parsers_answer_refusals_with_problems(parser_server):
    name, url = parser_server
    for what, request in MALFORMED:
        assert_refused(raw_request(url, request), 400, "invalid_http_request", f"{name}: {what}")
    # a head still growing past 16 KiB (h11 bounds only what it holds unparsed; httptools counts)
    big = [b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000, b"\r\n\r\n"]
    assert_refused(raw_request(url, big, pause_s=0.2), 431, "headers_too_large", f"{name}: big header")
    ok = raw_request(url, b"GET /v1/T%2FZZB%200001 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert ok.status == 200 and ok.body == b"/v1/T/ZZB 0001"


def test_both_parsers_let_a_client_still_sending_read_the_answer(parser_server):
    """The tiny app answers without reading the body and the connection closes (HTTP/1.0): the
    upload still arriving is read and discarded until the client is done, so the answer is never
    lost to a reset of the unread bytes (see services/common/server.py)."""
    import socket

    name, url = parser_server
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.0\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (4 << 20))
        for _ in range(64):
            s.sendall(b"x" * 65536)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while data := s.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 200 ") and b"/upload" in answer, (name, answer[:200])


def test_auto_picks_httptools_when_installed():
    assert protocol("auto") is PROTOCOLS["httptools"]
