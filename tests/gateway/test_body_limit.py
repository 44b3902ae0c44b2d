"""A body over the limit is a 413 problem at the gateway however it is sent, and nothing a caller
does to its own request — too large, cut short, badly framed — counts against a service's breaker
or reaches the service as if it were complete."""

import asyncio
import json
import socket
import time

from gateway.breaker import CircuitBreaker
from tests.gateway.conftest import EDGE_MAX_BODY, bearer
from tests.gateway.test_resilience import breaker_state
from tests.support import raw_request

LOOKUP = "/standards/v1/public/certifications/lookup"
PROBLEM = "application/problem+json"
OVERSIZED = json.dumps({"certificate_nos": [f"ZJM-{i:060d}" for i in range(100)]}).encode()
assert len(OVERSIZED) > 1.5 * EDGE_MAX_BODY


def chunked(path: str, chunks: list[bytes], headers: str = "", end: bool = True) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: eaglet.test\r\nContent-Type: application/json\r\n{headers}"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return head + body + (b"0\r\n\r\n" if end else b"")


def pieces(data: bytes, size: int = 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def assert_standards_reachable(gateway_url: str, http) -> None:
    r = await http.post(gateway_url + LOOKUP, json={"certificate_nos": ["ZJM-NO-SUCH"]})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["found"] is False
    assert breaker_state((await http.get(gateway_url + "/metrics")).text, "standards") == 0


async def test_an_oversized_body_is_a_413_problem_with_or_without_content_length(edge, http):
    gw = edge["gateway"].url
    r = await http.post(gw + LOOKUP, content=OVERSIZED, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "payload_too_large"

    async def stream():
        for piece in pieces(OVERSIZED):
            yield piece

    r = await http.post(gw + LOOKUP, content=stream(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "payload_too_large"


async def test_oversized_chunked_posts_to_a_public_route_do_not_open_the_breaker(edge, http):
    gw = edge["gateway"].url
    for _ in range(6):  # twice the breaker's threshold, anonymous
        r = raw_request(gw, chunked(LOOKUP, pieces(OVERSIZED)))
        assert r.status == 413 and r.json()["code"] == "payload_too_large", r.body
    await assert_standards_reachable(gw, http)
    metrics = (await http.get(gw + "/metrics")).text
    assert 'eaglet_gateway_upstream_responses_total{outcome="client_fault",upstream="standards"}' in metrics


def send_then_hang_up(url: str, data: bytes, wait_s: float = 0.3) -> None:
    """Send part of a request, give the gateway time to pass it on, then go away."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(data)
        time.sleep(wait_s)


async def test_an_upload_the_caller_breaks_off_is_never_passed_on_as_complete(edge, new_client, http, db):
    _, admin = await new_client("admin")
    gw = edge["gateway"].url
    for i in range(4):  # more than the breaker's threshold
        whole = json.dumps({"code": f"T/ZZB 09{i:02d}—2023", "level": "zhejiang_made", "title": "断开"})
        request = chunked(
            "/standards/v1/standards", [whole.encode()], f"Authorization: Bearer {admin}\r\n", end=False
        )
        send_then_hang_up(gw, request)  # a complete JSON document, but the body never ended
    for _ in range(4):
        broken = chunked(LOOKUP, [b'{"certificate_nos": ["ZJM-1"'], end=False) + b"zz\r\n]}\r\n0\r\n\r\n"
        r = raw_request(gw, [broken[:-16], broken[-16:]], pause_s=0.3)
        assert r.status == 400 and r.headers["content-type"] == PROBLEM, r.body
    await asyncio.sleep(0.5)
    assert await db.fetchval("SELECT count(*) FROM standards.standards") == 0
    await assert_standards_reachable(gw, http)


async def test_a_services_own_4xx_answers_never_open_the_breaker(edge, new_client, http):
    gw = edge["gateway"].url
    _, admin = await new_client("admin")
    for _ in range(5):
        r = await http.post(
            gw + LOOKUP, content=b'{"certificate_nos": [', headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["code"] == "malformed_json"
        r = await http.get(gw + "/standards/v1/standards/NO-SUCH-STANDARD", headers=bearer(admin))
        assert r.status_code == 404
    await assert_standards_reachable(gw, http)


def test_a_probe_the_caller_broke_off_frees_the_half_open_breaker_at_once():
    breaker = CircuitBreaker("test-probe", failures=1, open_s=0.05)
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow() and breaker.state == "half_open"  # the probe goes out …
    assert not breaker.allow()  # … alone
    breaker.inconclusive()  # … and its caller hung up: it showed nothing about the upstream
    assert breaker.state == "half_open" and breaker.allow()  # the next call probes, not in 30 s
    breaker.success()
    assert breaker.state == "closed"


def test_a_client_still_sending_past_the_limit_reads_its_413(edge):
    """The gateway answers 413 while the client is still writing (it does not read responses
    until it has sent everything, as simple clients do). Closing at once would leave the unread
    upload in the socket, and the kernel would then reset the connection, taking the answer with
    it; the gateway instead stops sending, discards what keeps arriving for a while and closes
    when the client is done."""
    host, port = edge["gateway"].url.removeprefix("http://").split(":")
    head = (
        f"POST {LOOKUP} HTTP/1.1\r\nHost: eaglet.test\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (16 * 1024, b"x" * 16 * 1024)
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(head)
            for _ in range(64):  # 1 MiB after the limit's 4 KiB, written before reading anything
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while data := s.recv(65536):
                answer += data
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"payload_too_large" in answer
