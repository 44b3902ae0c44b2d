"""The upstream client: one aiohttp session per service with a tuned keep-alive pool, per-upstream
timeouts, a circuit breaker, and retries only where repeating a request is safe.

aiohttp with a `TCPConnector` keep-alive pool, not httpx: under concurrent load httpx's default
pool collapsed where aiohttp kept most of the direct throughput (bench/gateway.py; figures in
docs/gateway.md#upstream-client-and-performance).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
from multidict import CIMultiDict
from prometheus_client import Counter, Histogram
from starlette.types import Receive
from yarl import URL

from gateway.breaker import CircuitBreaker
from gateway.errors import ClientDisconnected, UpstreamBadResponse, UpstreamUnavailable
from gateway.settings import UpstreamSettings
from services.common.auth import PRINCIPAL_HEADER
from services.common.errors import Problem, UpstreamTimeout
from services.common.metrics import child
from services.common.paths import quote_path
from services.common.settings import Settings

log = logging.getLogger("eaglet.gateway.upstream")

UPSTREAM_LATENCY = Histogram(
    "eaglet_gateway_upstream_duration_seconds",
    "Time to the upstream's response headers",
    ["upstream", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UPSTREAM_RESPONSES = Counter(
    "eaglet_gateway_upstream_responses_total",
    "Upstream outcomes: HTTP status, or error | timeout | breaker_open | client_fault | cancelled",
    ["upstream", "outcome"],
)
FAILURE_STATUSES = frozenset({502, 503, 504})


def is_problem(resp: aiohttp.ClientResponse) -> bool:
    """An RFC 9457 problem answer (application/problem+json), as every service writes its errors."""
    return resp.content_type == "application/problem+json"


class UpstreamError(Exception):
    """The upstream could not answer: ``kind`` is ``unavailable``, ``timeout`` or ``bad_response``."""

    def __init__(self, upstream: str, kind: str, retry_after: int = 1, detail: str = "") -> None:
        super().__init__(f"{upstream}: {kind} {detail}")
        self.upstream = upstream
        self.kind = kind
        self.retry_after = retry_after
        self.detail = detail

    def problem(self) -> Problem:
        if self.kind == "bad_response":
            return UpstreamBadResponse(upstream=self.upstream)
        if self.kind == "timeout":
            return UpstreamTimeout(f"the {self.upstream} service did not answer in time")
        return UpstreamUnavailable(
            f"the {self.upstream} service is unavailable"
            + (" (circuit open)" if "circuit open" in self.detail else "")
            + f"; retry after {self.retry_after} s",
            headers={"Retry-After": str(self.retry_after)},
        )


def client_disconnected() -> Problem:
    return ClientDisconnected()


class ClientBody:
    """A request body streamed from the caller to the upstream as it arrives.

    When the caller breaks it off — goes over the body limit (the kit's ``BodyTooLarge``, raised by
    the receive it is given), disconnects, or sends a body its HTTP parser refuses (which ends the
    connection) — the upload to the upstream is aborted, never ended as if the body were complete,
    and ``fault`` holds the caller's error: the failed upstream call is the caller's doing, not the
    upstream's, and is answered with the caller's error instead of a 503.
    """

    __slots__ = ("receive", "fault")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.fault: Exception | None = None

    async def __aiter__(self):
        while True:
            try:
                message = await self.receive()
            except Exception as e:
                self.fault = e
                raise
            if message["type"] == "http.disconnect":
                self.fault = client_disconnected()
                raise self.fault
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return


class Upstream:
    def __init__(self, name: str, base_url: str, cfg: UpstreamSettings) -> None:
        self.name = name
        self.base = URL(base_url.rstrip("/"))
        self.cfg = cfg
        self.breaker = CircuitBreaker(name, cfg.breaker_failures, cfg.breaker_open_s)
        read = cfg.read_timeouts.get(name, cfg.read_timeout_s)
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=cfg.connect_timeout_s, sock_connect=cfg.connect_timeout_s, sock_read=read
        )
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.cfg.pool_size,
            limit_per_host=self.cfg.pool_size,
            keepalive_timeout=self.cfg.keepalive_s,
            use_dns_cache=True,
            ttl_dns_cache=300,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookie state shared between callers
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def url(self, path: str, query: str = "") -> URL:
        """The upstream URL of a service path that is already percent-encoded (``paths.normalise``
        or ``paths.quote_path``). Appended to the base as it is: nothing resolves or re-encodes it,
        so the service routes on the path the gateway checked."""
        return URL(f"{self.base}{path}?{query}" if query else f"{self.base}{path}", encoded=True)

    async def open(
        self, method: str, url: URL, headers: CIMultiDict | dict, data: Any, retryable: bool
    ) -> aiohttp.ClientResponse:
        """Send a request and return the response once its headers arrived (the caller releases it).

        Raises UpstreamError (unavailable, timeout or bad response). Retries connection failures
        and 502–504 only when ``retryable`` (GET/HEAD, or a POST with an Idempotency-Key and a
        buffered body).

        The breaker counts upstream faults only: connection errors, timeouts, 502–504 that are not
        the service's own problem answer, and answers that are not HTTP. A call the caller broke off (a streamed ``ClientBody`` over the limit or
        cut short) raises the caller's own error and counts for nothing, like a cancelled call; any
        other answer, 4xx included, shows the upstream alive.
        """
        assert self.session is not None
        attempts = 1 + (self.cfg.retries if retryable else 0)
        last: UpstreamError | None = None
        for attempt in range(attempts):
            if not self.breaker.allow():
                child(UPSTREAM_RESPONSES, self.name, "breaker_open").inc()
                raise UpstreamError(self.name, "unavailable", self.breaker.retry_after(), "(circuit open)")
            started = time.perf_counter()
            try:
                resp = await self.session.request(
                    method, url, headers=headers, data=data, allow_redirects=False
                )
            except BaseException as e:
                fault = data.fault if isinstance(data, ClientBody) else None
                if fault is not None or not isinstance(e, Exception):
                    self.breaker.inconclusive()
                    child(UPSTREAM_RESPONSES, self.name, "client_fault" if fault else "cancelled").inc()
                    if fault is not None:
                        raise fault from e
                    raise
                if isinstance(e, aiohttp.InvalidURL) or not isinstance(
                    e, TimeoutError | aiohttp.ClientError | OSError
                ):
                    self.breaker.inconclusive()  # the gateway's own error, not the upstream's
                    raise
                last = self._failed(e)
                if attempt + 1 < attempts and last.kind == "unavailable":
                    if "connect timeout" not in last.detail:
                        await asyncio.sleep(self.cfg.retry_backoff_s * (attempt + 1))
                    continue
                raise last from e
            child(UPSTREAM_LATENCY, self.name, method).observe(time.perf_counter() - started)
            child(UPSTREAM_RESPONSES, self.name, str(resp.status)).inc()
            if resp.status in FAILURE_STATUSES and is_problem(resp):
                # the service's own problem answer (e.g. 503 database_unavailable while its
                # database is away): it is alive and said why, so the answer goes to the caller
                # as it is and counts neither way; opening the breaker would keep refusing for
                # breaker_open_s after the database is back.
                self.breaker.inconclusive()
            elif resp.status in FAILURE_STATUSES:
                self.breaker.failure()
                if attempt + 1 < attempts and self.breaker.state == "closed":
                    resp.release()
                    await asyncio.sleep(self.cfg.retry_backoff_s * (attempt + 1))
                    continue
            else:
                self.breaker.success()
            return resp
        assert last is not None
        raise last

    def _failed(self, e: BaseException) -> UpstreamError:
        """Count an upstream fault on the breaker; the error to answer with."""
        self.breaker.failure()
        if isinstance(e, TimeoutError):  # aiohttp's connect and read timeouts included
            child(UPSTREAM_RESPONSES, self.name, "timeout").inc()
            if isinstance(e, aiohttp.ConnectionTimeoutError):
                return UpstreamError(
                    self.name, "unavailable", self.breaker.retry_after(), "(connect timeout)"
                )
            return UpstreamError(self.name, "timeout")
        child(UPSTREAM_RESPONSES, self.name, "error").inc()
        if isinstance(e, aiohttp.ClientConnectionError | OSError):
            return UpstreamError(
                self.name, "unavailable", self.breaker.retry_after(), f"({type(e).__name__})"
            )
        return UpstreamError(self.name, "bad_response", detail=f"({type(e).__name__})")

    async def get_json(
        self,
        path: str,
        principal_token: str,
        request_id: str | None,
        params: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """GET a service route with the caller's principal; (status, parsed JSON or None)."""
        query = ""
        if params:
            from urllib.parse import urlencode

            query = urlencode({k: v for k, v in params.items() if v is not None})
        headers = {
            PRINCIPAL_HEADER: principal_token,
            "Accept": "application/json",
        }
        if request_id:
            headers["X-Request-ID"] = request_id
        resp = await self.open("GET", self.url(quote_path(path), query), headers, None, retryable=True)
        try:
            body = await resp.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise UpstreamError(self.name, "timeout" if isinstance(e, TimeoutError) else "unavailable") from e
        finally:
            resp.release()
        try:
            return resp.status, json.loads(body) if body else None
        except ValueError:
            return resp.status, None


class Upstreams(dict[str, Upstream]):
    @classmethod
    def from_settings(cls, settings: Settings, cfg: UpstreamSettings) -> Upstreams:
        from services.common.settings import SERVICES

        return cls({name: Upstream(name, settings.service(name).base_url, cfg) for name in SERVICES})

    async def start(self) -> None:
        for u in self.values():
            await u.start()

    async def close(self) -> None:
        for u in self.values():
            await u.close()
