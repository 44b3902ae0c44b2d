"""Every process — the three services and the gateway — runs with the kit's HTTP protocols: a
request its parser refuses is answered with a problem, like every other error."""

from tests.common.test_server import MALFORMED, assert_refused
from tests.support import raw_request


def test_every_process_answers_a_malformed_request_with_a_problem(live_services, gateway_live):
    for server in (*live_services.values(), gateway_live):
        for what, request in MALFORMED:
            assert_refused(
                raw_request(server.url, request), 400, "invalid_http_request", f"{server.name}: {what}"
            )
        assert (
            raw_request(server.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status
            == 200
        )


def test_every_process_bounds_the_request_head_with_a_431_problem(live_services, gateway_live):
    for server in (*live_services.values(), gateway_live):
        big_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
        assert_refused(
            raw_request(server.url, big_header), 431, "headers_too_large", f"{server.name}: header"
        )
        long_target = b"GET /healthz?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert_refused(
            raw_request(server.url, long_target), 431, "headers_too_large", f"{server.name}: target"
        )


def test_a_websocket_upgrade_is_an_ordinary_request(live_services, gateway_live):
    upgrade = (
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    for server in (*live_services.values(), gateway_live):
        r = raw_request(server.url, f"GET /nope HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n".encode())
        assert r.status == 404 and r.headers["content-type"] == "application/problem+json", (server.name, r)
        r = raw_request(server.url, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n".encode())
        assert r.status == 200 and r.json() == {"status": "ok"}, (server.name, r)
