"""Helpers shared by tests: app factories and real uvicorn servers on free loopback ports."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from gateway.app import create_app as create_gateway
from services.cli import serve_command
from services.finance.app import create_app as create_finance
from services.registry.app import create_app as create_registry
from services.standards.app import create_app as create_standards

SERVICE_FACTORIES = {
    "registry": create_registry,
    "finance": create_finance,
    "standards": create_standards,
}
__all__ = [
    "SERVICE_FACTORIES",
    "LiveServer",
    "RawResponse",
    "RedisServer",
    "create_gateway",
    "free_port",
    "raw_request",
    "start_live",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    name: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    log_path: str = ""
    extra: dict = field(default_factory=dict)
    # A test-only app factory ("module:function") served like a process; None: the process `name`.
    app: str | None = None
    # More options of `eaglet serve` (e.g. "--workers", "2").
    options: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> LiveServer:
        self.log_path = f"/tmp/eaglet-test-{self.name}-{self.port}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            self._command(),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {open(self.log_path).read()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout_s} s")

    def _command(self) -> list[str]:
        if self.app is None:
            return serve_command(
                self.name, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                *self.options,
            )  # fmt: skip
        code = (
            "from services.common.server import serve; "
            f"serve({self.app!r}, host='127.0.0.1', port={self.port}, log_level='warning')"
        )
        return [sys.executable, "-c", code]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_live(
    name: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    app: str | None = None,
    options: tuple[str, ...] = (),
) -> LiveServer:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return LiveServer(name=name, port=port or free_port(), env=full_env, app=app, options=options).start()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw_request(
    url: str, data: bytes | list[bytes], pause_s: float = 0.0, timeout_s: float = 10
) -> RawResponse:
    """Send bytes exactly as given (no client normalising the request line, path or headers) to a
    live server and read one response. A list is sent piece by piece, ``pause_s`` apart."""
    target = httpx.URL(url)
    with socket.create_connection((target.host, target.port), timeout=timeout_s) as s:
        for i, piece in enumerate([data] if isinstance(data, bytes) else data):
            if i and pause_s:
                time.sleep(pause_s)
            if i and select.select([s], [], [], 0)[0]:
                break  # the server has answered already: stop sending, read the answer
            try:
                s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed early; read what it said
        buf = b""
        while (parsed := _parse_response(buf)) is None:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                parsed = _parse_response(buf, eof=True)
                assert parsed is not None, f"no complete response: {buf[:500]!r}"
                break
            buf += chunk
        return parsed


def _parse_response(buf: bytes, eof: bool = False) -> RawResponse | None:
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        return RawResponse(status, headers, rest[:n]) if len(rest) >= n else None
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line, sep, rest = rest.partition(b"\r\n")
            if not sep:
                return None
            size = int(size_line, 16)
            if size == 0:
                return RawResponse(status, headers, body)
            if len(rest) < size + 2:
                return None
            body, rest = body + rest[:size], rest[size + 2 :]
    return RawResponse(status, headers, rest) if eof else None


# The job worker with short intervals, for tests: heartbeats every half second, a worker silent
# for 3 s is taken as dead, stalled jobs looked for every second.
FAST_WORKER_ENV = {
    "EAGLET_JOBS__HEARTBEAT_S": "0.5",
    "EAGLET_JOBS__STALLED_AFTER_S": "3",
    "EAGLET_JOBS__POLL_S": "0.5",
    "EAGLET_JOBS__SHUTDOWN_GRACE_S": "5",
    "EAGLET_JOBS__STALLED_CRON": "* * * * * *",
}


def fast_worker_settings(**jobs: object):
    """Settings of a test worker (FAST_WORKER_ENV's values), with `jobs` fields overridden."""
    from services.common.settings import JobsSettings, get_settings

    base = {k.removeprefix("EAGLET_JOBS__").lower(): v for k, v in FAST_WORKER_ENV.items()}
    settings = get_settings()
    kept = {"database_url": settings.jobs.database_url}  # the worker's role
    return settings.model_copy(update={"jobs": JobsSettings(**{**kept, **base, **jobs})})


@dataclass
class WorkerProcess:
    """`eaglet worker` as a real process (its log in `log_path`)."""

    proc: subprocess.Popen
    log_path: str

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()[-5000:]

    def stop(self, timeout_s: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_worker(env: dict[str, str] | None = None, name: str = "worker") -> WorkerProcess:
    from services.cli.worker import worker_command

    full_env = {**os.environ, **FAST_WORKER_ENV, **(env or {})}
    log_path = f"/tmp/eaglet-test-{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(worker_command(), env=full_env, stdout=log, stderr=subprocess.STDOUT)
    return WorkerProcess(proc, log_path)


@asynccontextmanager
async def registry_screening_in_background(above: int) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an in-process registry that screens every region of more than `above`
    enterprises in the background (202, the job worker runs it)."""
    from services.common.readpool import close_read_pool
    from services.common.settings import ScreeningSettings, get_settings

    settings = get_settings().model_copy(update={"screening": ScreeningSettings(background_above=above)})
    app = create_registry(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry.test", timeout=30
        ) as client:
            yield client
    finally:
        await close_read_pool(app)
        await app.state.engine.dispose()


async def feed_events(c: httpx.AsyncClient, headers: dict, **params) -> list[dict]:
    """Every event the caller sees in a service's `GET /v1/events`, from the start, page by page."""
    seen, after = [], None
    while True:
        query = {"limit": 500, **params} | ({"after": after} if after else {})
        r = await c.get("/v1/events", params=query, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["items"]
        after = body["next_cursor"]
        if not body["has_more"]:
            return seen


class RedisServer:
    """A real ``redis-server`` (Debian's package: `apt-get install redis-server`; `.ci/run`
    installs it) on a free loopback port, no persistence; stopped, started again on the same port,
    or paused (SIGSTOP: it accepts connections and never answers) by tests."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="eaglet-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning"]  # fmt: skip
        log = open(os.path.join(self.dir, "redis.log"), "ab")  # noqa: SIM115 - the child's lifetime
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {open(os.path.join(self.dir, 'redis.log')).read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start in {timeout_s} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
