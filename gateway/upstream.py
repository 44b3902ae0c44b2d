"""The upstream client: one aiohttp session per service with a tuned keep-alive pool, per-upstream
timeouts, a circuit breaker, and retries only where repeating a request is safe.

Measured on this 2-core machine (bench/gateway.py): httpx's default pool collapsed under 32
concurrent connections, aiohttp with a TCPConnector kept most of the direct throughput.
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
from yarl import URL

from gateway.breaker import CircuitBreaker
from gateway.settings import UpstreamSettings
from services.common.auth import PRINCIPAL_HEADER
from services.common.errors import Problem
from services.common.metrics import child
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
    "Upstream outcomes: HTTP status, or error | timeout | breaker_open",
    ["upstream", "outcome"],
)
FAILURE_STATUSES = frozenset({502, 503, 504})


class UpstreamError(Exception):
    """The upstream could not answer: ``kind`` is ``unavailable`` or ``timeout``."""

    def __init__(self, upstream: str, kind: str, retry_after: int = 1, detail: str = "") -> None:
        super().__init__(f"{upstream}: {kind} {detail}")
        self.upstream = upstream
        self.kind = kind
        self.retry_after = retry_after
        self.detail = detail

    def problem(self) -> Problem:
        if self.kind == "timeout":
            return Problem(
                504,
                "upstream_timeout",
                f"the {self.upstream} service did not answer in time",
                title="Gateway Timeout",
            )
        return Problem(
            503,
            "upstream_unavailable",
            f"the {self.upstream} service is unavailable"
            + (" (circuit open)" if "circuit open" in self.detail else "")
            + f"; retry after {self.retry_after} s",
            headers={"Retry-After": str(self.retry_after)},
        )


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

    def url(self, path: str, query: bytes | str = b"") -> URL:
        raw = self.base.raw_path.rstrip("/") + path
        if query:
            raw += "?" + (query.decode("latin-1") if isinstance(query, bytes) else query)
        return self.base.join(URL(raw, encoded=True))

    async def open(
        self, method: str, url: URL, headers: CIMultiDict | dict, data: Any, retryable: bool
    ) -> aiohttp.ClientResponse:
        """Send a request and return the response once its headers arrived (the caller releases it).

        Raises UpstreamError (unavailable or timeout). Retries connection failures and 502–504
        only when ``retryable`` (GET/HEAD, or a POST with an Idempotency-Key and a buffered body).
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
            except (TimeoutError, aiohttp.ServerTimeoutError) as e:
                self.breaker.failure()
                child(UPSTREAM_RESPONSES, self.name, "timeout").inc()
                if isinstance(e, aiohttp.ConnectionTimeoutError):
                    last = UpstreamError(
                        self.name, "unavailable", self.breaker.retry_after(), "(connect timeout)"
                    )
                    if attempt + 1 < attempts:
                        continue
                    raise last from e
                raise UpstreamError(self.name, "timeout") from e
            except (aiohttp.ClientConnectionError, OSError) as e:
                self.breaker.failure()
                child(UPSTREAM_RESPONSES, self.name, "error").inc()
                last = UpstreamError(
                    self.name, "unavailable", self.breaker.retry_after(), f"({type(e).__name__})"
                )
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.cfg.retry_backoff_s * (attempt + 1))
                    continue
                raise last from e
            child(UPSTREAM_LATENCY, self.name, method).observe(time.perf_counter() - started)
            child(UPSTREAM_RESPONSES, self.name, str(resp.status)).inc()
            if resp.status in FAILURE_STATUSES:
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
        resp = await self.open("GET", self.url(path, query), headers, None, retryable=True)
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
