"""Webhook test harness: real HTTP receivers on loopback (aiohttp servers in the test's loop), the
live gateway in front of the live services for registrations and writes, and dispatchers run in
the test (`Dispatcher` stepped by hand, or its loop as a task) or as a process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from gateway.webhooks.dispatcher import Dispatcher
from services.common.settings import Settings, WebhookSettings, get_settings
from tests.finance.helpers import loan
from tests.gateway.conftest import bearer

# A handler answers one request: (status, headers, body).
Handler = Callable[[web.Request], Awaitable[tuple[int, dict[str, str], bytes]]]


async def ok(_request: web.Request) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b'{"received": true}'


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1: records every request, answers with `handler`."""

    handler: Handler = ok
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # a handler still waiting at the end of a test is cancelled at once, not after 60 s
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Received({k.lower(): v for k, v in request.headers.items()}, body, time.time()))
        self._arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            status, headers, answer = await self.handler(request)
        finally:
            self.in_flight -= 1
        return web.Response(status=status, headers=headers, body=answer)

    async def wait_for(self, n: int, timeout_s: float = 20.0) -> list[Received]:
        """Until `n` requests have arrived (a deadline for a hang, not a timing assertion)."""
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < n:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.requests)} of {n} requests arrived"
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))
            except TimeoutError:
                pass
        return self.requests

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receivers():
    """`await receivers(handler)` → a started Receiver; all are stopped after the test."""
    made: list[Receiver] = []

    async def make(handler: Handler = ok) -> Receiver:
        r = await Receiver(handler).start()
        made.append(r)
        return r

    yield make
    for r in made:
        await r.stop()


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def to(self, when: datetime) -> datetime:
        self.now = max(self.now, when)
        return self.now


def with_webhooks(base: Settings, **changes) -> Settings:
    """`base` with these webhook settings (validated as if they came from the environment)."""
    webhooks = WebhookSettings.model_validate({**base.webhooks.model_dump(), **changes})
    return base.model_copy(update={"webhooks": webhooks})


def webhook_settings(**changes) -> Settings:
    return with_webhooks(get_settings(), **changes)


@pytest.fixture
async def dispatcher():
    """`await dispatcher(**kw)` → a started Dispatcher (settings= or webhook setting changes)."""
    made: list[Dispatcher] = []

    async def make(settings: Settings | None = None, **kw) -> Dispatcher:
        options = {k: kw.pop(k) for k in ("clock", "rng", "resolver", "verify") if k in kw}
        d = await Dispatcher(settings or webhook_settings(**kw), **options).start()
        made.append(d)
        return d

    yield make
    for d in made:
        await d.close()


@pytest.fixture
async def running():
    """`await running(settings)` → the dispatcher loop `run(settings, stop)` as a task; stopped
    (and awaited) after the test."""
    from gateway.webhooks.dispatcher import run

    tasks: list[tuple[asyncio.Event, asyncio.Task]] = []

    async def start(settings: Settings | None = None, **kw) -> asyncio.Event:
        stop = asyncio.Event()
        tasks.append((stop, asyncio.create_task(run(settings or webhook_settings(**kw), stop))))
        return stop

    yield start
    for stop, task in tasks:
        stop.set()
        await asyncio.wait_for(task, 30)


async def register(http, gateway_url: str, key: str, url: str, types: list[str], **more) -> dict:
    r = await http.post(
        gateway_url + "/v1/webhooks", json={"url": url, "event_types": types, **more}, headers=bearer(key)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def post_loans(http, gateway_url: str, key: str, records: list[dict]) -> dict:
    r = await http.post(
        gateway_url + "/finance/v1/loans/batch", json={"records": records}, headers=bearer(key)
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert all(x["status"] in ("created", "updated") for x in out["results"]), out
    return out


async def step_until_delivered(d: Dispatcher, n: int, rounds: int = 50) -> None:
    """Fan out and send (by hand) until `n` deliveries have been made in all."""
    made = 0
    for _ in range(rounds):
        await d.fan_out()
        made += await d.send_due()
        if made >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{made} of {n} deliveries sent")


__all__ = [
    "FakeClock",
    "Receiver",
    "bearer",
    "loan",
    "post_loans",
    "register",
    "step_until_delivered",
    "webhook_settings",
    "with_webhooks",
]
