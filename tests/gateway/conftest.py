"""Gateway test harness: a live gateway in front of the live services, and a second gateway in
front of a throwaway finance server (stopped and restarted by tests) and a standards address that
accepts connections but never answers (timeouts)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.clients.schemas import ClientCreate
from gateway.clients.service import create_client
from services.common.auth import Principal
from services.common.db import create_engine, create_sessionmaker
from services.common.settings import get_settings
from tests.support import LiveServer, free_port, start_live

OIDC_ISSUER = "https://sso.example.zj.gov.cn"
OIDC_AUDIENCE = "eaglet-api"


def start_gateway(
    live_services, env: dict[str, str] | None = None, options: tuple[str, ...] = (), **upstreams: str
) -> LiveServer:
    """A live gateway in front of the live services, some of them replaced (`finance=URL`), with
    `env` on top (and more `eaglet serve` options)."""
    urls = {name: s.url for name, s in live_services.items()} | upstreams
    where = {f"EAGLET_{name.upper()}__URL": url for name, url in urls.items()}
    return start_live("gateway", env={**where, **(env or {})}, options=options)


@pytest.fixture(scope="session")
def oidc_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def gateway_live(live_services, oidc_key) -> LiveServer:
    pem = (
        oidc_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    env = {
        "EAGLET_OIDC__ISSUER": OIDC_ISSUER,
        "EAGLET_OIDC__AUDIENCE": OIDC_AUDIENCE,
        "EAGLET_OIDC__PUBLIC_KEY_PEM": pem,
        "EAGLET_OPENAPI_REFRESH_S": "0.2",
    }
    server = start_gateway(live_services, env)
    yield server
    server.stop()


class Blackhole:
    """A TCP listener that accepts connections and never answers (to provoke read timeouts)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture(scope="session")
def flaky(live_services):
    """A gateway whose finance is a throwaway server (`flaky["finance"]`, restartable on the same
    port) and whose standards never answers; breaker: 3 failures, 1 s open."""
    finance = start_live("finance", env={"EAGLET_LOG_LEVEL": "INFO"})
    hole = Blackhole()
    env = {
        "EAGLET_UPSTREAM__BREAKER_FAILURES": "3",
        "EAGLET_UPSTREAM__BREAKER_OPEN_S": "1",
        "EAGLET_UPSTREAM__CONNECT_TIMEOUT_S": "1",
        "EAGLET_UPSTREAM__READ_TIMEOUTS": json.dumps({"standards": 0.5}),
        "EAGLET_UPSTREAM__RETRY_BACKOFF_S": "0.01",
    }
    gw = start_gateway(live_services, env, finance=finance.url, standards=f"http://127.0.0.1:{hole.port}")
    yield {"gateway": gw, "finance": finance, "blackhole": hole}
    gw.stop()
    finance.stop()
    hole.close()


@pytest.fixture(scope="session")
def hung(live_services):
    """A gateway whose finance accepts connections and never answers, with the default aggregate
    deadline (3 s) and a proxied read timeout of 5 s."""
    hole = Blackhole()
    gw = start_gateway(
        live_services, {"EAGLET_UPSTREAM__READ_TIMEOUT_S": "5"}, finance=f"http://127.0.0.1:{hole.port}"
    )
    yield gw
    gw.stop()
    hole.close()


TRUSTED_PROXY = "127.0.0.2"  # a loopback address the tests connect from to act as the proxy


@pytest.fixture(scope="session")
def behind_proxy(live_services):
    """A gateway that trusts one proxy address (`TRUSTED_PROXY`; calls from 127.0.0.1 are from an
    untrusted peer), whose registry is a `StubUpstream` (public routes show the forwarded headers),
    with small per-IP limits: public routes 2/s (a bucket of 4), failed authentications 1/s (5)."""
    echo = StubUpstream()
    env = {
        "EAGLET_TRUSTED_PROXIES": f"{TRUSTED_PROXY}/32",
        "EAGLET_RATES__PUBLIC_PER_IP": "2",
        "EAGLET_RATES__AUTH_FAILURES_PER_IP": "1",
        "EAGLET_RATES__AUTH_FAILURES_BURST": "5",
    }
    gw = start_gateway(live_services, env, registry=echo.url)
    yield gw
    gw.stop()
    echo.close()


@pytest.fixture
async def via_proxy():
    """An HTTP client whose connections come from the trusted proxy's address."""
    transport = httpx.AsyncHTTPTransport(local_address=TRUSTED_PROXY)
    async with httpx.AsyncClient(transport=transport, timeout=15) as c:
        yield c


class StubUpstream:
    """An HTTP server standing in for a service, to see what the gateway forwards: it answers with
        the request target exactly as it arrived and the headers it received (`{"method", "target",
        "headers"}`), `/v1/redirect?to=URL` with a 307 to that URL, `/v1/not-http` with bytes that
        are not an HTTP response, `/v1/database-away` with the 503 problem a service answers while its
    database is away, and `/v1/slow?s=N` like any path after N seconds (`slow_started` is
        set as it begins)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.slow_started = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                split = urlsplit(self.path)
                if split.path == "/v1/slow":
                    stub.slow_started.set()
                    time.sleep(float(parse_qs(split.query).get("s", ["1"])[0]))
                if split.path == "/v1/not-http":
                    self.wfile.write(b"SPDY/9 maybe later\r\n\r\n")
                    self.close_connection = True
                    return
                if split.path == "/v1/database-away":
                    body = json.dumps(
                        {
                            "type": "about:blank",
                            "title": "Database unavailable",
                            "status": 503,
                            "code": "database_unavailable",
                        }
                    ).encode()
                    self.send_response(503)
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Retry-After", "2")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if split.path == "/v1/redirect":
                    self.send_response(307)
                    self.send_header("Location", parse_qs(split.query)["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                body = json.dumps({"method": self.command, "target": self.path, "headers": headers}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


EDGE_MAX_BODY = 4096


@pytest.fixture(scope="session")
def edge(live_services):
    """A gateway whose registry is a `StubUpstream` (`edge["stub"]`) and whose finance and standards
    are the live ones; bodies limited to EDGE_MAX_BODY bytes; breaker: 3 failures, open 30 s (so a
    breaker opened by mistake is still open when the test looks)."""
    stub = StubUpstream()
    env = {
        "EAGLET_MAX_BODY_BYTES": str(EDGE_MAX_BODY),
        "EAGLET_UPSTREAM__BREAKER_FAILURES": "3",
        "EAGLET_UPSTREAM__BREAKER_OPEN_S": "30",
    }
    gw = start_gateway(live_services, env, registry=stub.url)
    yield {"gateway": gw, "stub": stub}
    gw.stop()
    stub.close()


@pytest.fixture(scope="module")
def redis_server():
    """A real redis-server on a free port for the module's tests (tests.support.RedisServer)."""
    from tests.support import RedisServer

    server = RedisServer().start()
    yield server
    server.close()


def metric(server: LiveServer, name: str) -> float:
    """A metric's value (without labels) on a live process's /metrics."""
    import re

    text = httpx.get(server.url + "/metrics", timeout=5).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def restart(server: LiveServer) -> None:
    server.stop()
    server.start()


def wait_until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture(scope="session")
async def gw_sessionmaker(database_url):
    settings = get_settings()
    engine = create_engine(
        settings.model_copy(update={"db": settings.db.model_copy(update={"pool": "null"})}), "eaglet-test"
    )
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def new_client(gw_sessionmaker):
    """`await new_client("bank", org="B001")` → (client id, key), created through the gateway's
    own service layer (as `eaglet clients create` does)."""

    async def make(kind: str, name: str | None = None, rate: float | None = None, **kw):
        data = ClientCreate(
            kind=kind,
            name=name or f"test {kind}",
            rate_per_s=Decimal(str(rate)) if rate is not None else None,
            **kw,
        )
        async with gw_sessionmaker() as session:
            created = await create_client(session, Principal(sub="test", kind="admin"), data)
            await session.commit()
        return str(created.id), created.key

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=15) as c:
        yield c


__all__ = ["EDGE_MAX_BODY", "bearer", "metric", "restart", "wait_until", "free_port"]
