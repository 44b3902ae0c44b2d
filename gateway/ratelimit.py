"""Token buckets per client (rate per kind, or the client's own), per IP on public routes, and
per IP for failed authentications (`authfail:<ip>`: taken before a credential is looked up,
given back unless it is refused).

Where the buckets live:

- ``EAGLET_REDIS_URL`` set: in Redis, shared by every gateway process (replicas and workers). One
  decision is one round trip: a Lua script (``BUCKET_LUA``) refills the bucket from Redis's own
  clock (``TIME``: the replicas' clocks never matter), takes or gives back a token and sets the
  key's expiry to the time it takes to fill again (a full bucket is no key at all).
- Without it: in this process, at rate ÷ (``EAGLET_GATEWAY__REPLICAS`` × the process's workers,
  ``EAGLET_GATEWAY__WORKERS``, which ``eaglet serve --workers`` sets): N processes together never
  let a client past its rate, though one connection (held by one process) sees only its share.
  With the defaults (one replica, one worker) that is the configured rate itself.
- Redis set but unreachable, or slower than ``EAGLET_REDIS_TIMEOUT_S`` (50 ms): the decision is
  taken in this process as above, never failing or holding the request. The gateway logs the
  change once, sets ``eaglet_gateway_ratelimit_fallback`` to 1 and probes Redis in the background
  (SCRIPT LOAD, after 0.25 s doubling to every 5 s); when it answers, decisions are shared again
  (logged once, the gauge back to 0).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from services.common.metrics import child

log = logging.getLogger("eaglet.gateway.ratelimit")

# Keys in Redis: PREFIX + the bucket's key (client:<id>, person:<sub>, ip:<addr>, authfail:<addr>).
PREFIX = "eaglet:ratelimit:"
# Background probes of an unreachable Redis: first after this long, doubling up to the second.
PROBE_BACKOFF_S = (0.25, 5.0)

# One decision, atomically in Redis. KEYS[1]: the bucket; ARGV: rate (tokens per second), capacity,
# cost (1 takes a token, -1 gives one back). The bucket is a hash {tokens, ts} refilled from the
# server's clock; a bucket that is full again is deleted (it equals a missing one), and every other
# expires when it would be full. Returns {allowed (0|1), remaining (whole tokens), reset_s,
# retry_after_s}, as RateLimiter.take computes them.
BUCKET_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
end
local allowed = 1
if cost > 0 then
  if tokens >= cost then tokens = tokens - cost else allowed = 0 end
else
  tokens = math.min(capacity, tokens - cost)
end
local reset = 0
if tokens >= capacity then
  redis.call('DEL', KEYS[1])
else
  reset = math.ceil((capacity - tokens) / rate)
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
end
local retry = 0
if allowed == 0 then retry = math.max(1, math.ceil((cost - tokens) / rate)) end
return {allowed, math.floor(tokens), reset, retry}
"""

FALLBACK = Gauge(
    "eaglet_gateway_ratelimit_fallback",
    "1 while EAGLET_REDIS_URL is set but Redis does not answer: this process decides alone, at "
    "rate ÷ processes (EAGLET_GATEWAY__REPLICAS × workers); 0 otherwise",
    multiprocess_mode="livemax",  # several workers: 1 if any of them decides alone
)
DECISIONS = Counter(
    "eaglet_gateway_ratelimit_decisions_total",
    "Rate-limit decisions by where they were taken: redis (shared), local (no Redis configured), "
    "fallback (Redis configured but unreachable or too slow)",
    ["store"],
)
REDIS_LATENCY = Histogram(
    "eaglet_gateway_ratelimit_redis_seconds",
    "Time of one rate-limit decision in Redis (the script's round trip)",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
REDIS_ERRORS = Counter(
    "eaglet_gateway_ratelimit_redis_errors_total",
    "Rate-limit calls to Redis that failed: timeout, connection or other",
    ["kind"],
)


@dataclass(slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_s).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after_s).encode()))
        return out

    def header_dict(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.headers()}


class RateLimiter:
    """Buckets in this process's memory."""

    MAX_BUCKETS = 200_000

    def __init__(self, burst_s: float) -> None:
        self.burst_s = burst_s
        # key → [tokens, last refill (monotonic)]
        self._buckets: dict[str, list[float]] = {}

    def take(
        self, key: str, rate: float, now: float | None = None, capacity: float | None = None
    ) -> Decision:
        """Take a token from `key`'s bucket (refilled at `rate` per second; holding `capacity`
        tokens, default `rate × burst_s`)."""
        now = time.monotonic() if now is None else now
        capacity = max(1.0, rate * self.burst_s if capacity is None else capacity)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_BUCKETS:
                self._prune(now)
            bucket = self._buckets[key] = [capacity, now]
        tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        bucket[0] = tokens
        reset = math.ceil((capacity - tokens) / rate) if tokens < capacity else 0
        retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))
        return Decision(allowed, int(capacity), int(tokens), reset, retry)

    def refund(self, key: str, capacity: float) -> None:
        """Give back a token taken for an outcome that turned out not to count."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket[0] = min(max(1.0, capacity), bucket[0] + 1.0)

    def _prune(self, now: float) -> None:
        """Drop buckets that have refilled completely (they behave like new ones)."""
        stale = [k for k, (_t, last) in self._buckets.items() if now - last > 3600]
        for k in stale:
            del self._buckets[k]
        if len(self._buckets) >= self.MAX_BUCKETS:
            self._buckets.clear()


def _error_kind(exc: BaseException) -> str:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, TimeoutError | RedisTimeoutError):
        return "timeout"
    if isinstance(exc, RedisConnectionError | OSError):
        return "connection"
    return "other"


class RedisBuckets:
    """The buckets in Redis (``BUCKET_LUA``), and whether Redis answers (``up``)."""

    def __init__(self, url: str, timeout_s: float, divisor: int) -> None:
        from redis.asyncio import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.timeout_s = timeout_s
        self.divisor = divisor  # for the log line: the fallback's share of the rate
        # No retries and short socket timeouts: a decision that cannot be taken at once is taken
        # locally, never waited for.
        self.client = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            client_name="eaglet-gateway-ratelimit",
        )
        self.script = self.client.register_script(BUCKET_LUA)  # EVALSHA; EVAL after a NOSCRIPT
        self.up = True
        self._probe: asyncio.Task | None = None
        self._where = self._describe(url)

    @staticmethod
    def _describe(url: str) -> str:
        """The URL without its credentials (for log lines)."""
        from urllib.parse import urlsplit

        u = urlsplit(url)
        return f"{u.scheme}://{u.hostname or ''}{f':{u.port}' if u.port else ''}{u.path}"

    async def start(self) -> None:
        try:
            async with asyncio.timeout(max(self.timeout_s, 1.0)):
                await self.client.script_load(BUCKET_LUA)  # a connection made, the script known
        except Exception as e:
            self.down(e)
        else:
            log.info("rate limits shared in Redis at %s", self._where)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            try:
                await self._probe
            except asyncio.CancelledError:
                pass
        try:
            await self.client.aclose()
        except Exception:  # pragma: no cover - closing a dead connection
            pass

    async def take(self, key: str, rate: float, capacity: float, cost: int = 1) -> Decision | None:
        """The decision in Redis, or None when Redis did not answer in time (then ``up`` is false
        until a probe finds it again)."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                allowed, remaining, reset, retry = await self.script(
                    keys=[PREFIX + key], args=[repr(float(rate)), repr(float(capacity)), cost]
                )
        except Exception as e:  # never a 500, never a hang: the caller decides locally
            self.down(e)
            return None
        REDIS_LATENCY.observe(time.perf_counter() - started)
        return Decision(bool(allowed), int(capacity), int(remaining), int(reset), int(retry))

    def down(self, exc: BaseException) -> None:
        child(REDIS_ERRORS, _error_kind(exc)).inc()
        if not self.up:
            return
        self.up = False
        FALLBACK.set(1)
        log.warning(
            "rate limits: Redis at %s does not answer (%s: %s); deciding in this process at rate ÷ %d "
            "until it answers again",
            self._where,
            type(exc).__name__,
            exc,
            self.divisor,
        )
        if self._probe is None or self._probe.done():
            # in a context of its own: its log lines are not the request's that noticed
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_until_up(), context=contextvars.Context()
            )

    async def _probe_until_up(self) -> None:
        delay = PROBE_BACKOFF_S[0]
        while True:
            await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(self.timeout_s):
                    # the probe loads the script: a Redis restarted empty knows it before the
                    # next decision (EVALSHA at once, not NOSCRIPT then EVAL)
                    await self.client.script_load(BUCKET_LUA)
            except Exception:
                delay = min(delay * 2, PROBE_BACKOFF_S[1])
                continue
            self.up = True
            FALLBACK.set(0)
            log.warning("rate limits: Redis at %s answers again; buckets are shared again", self._where)
            return


class Buckets:
    """Every rate-limit decision of a gateway process: in Redis when configured and answering,
    else in this process at rate ÷ `divisor` (module docstring)."""

    def __init__(self, burst_s: float, divisor: int = 1, redis: RedisBuckets | None = None) -> None:
        self.burst_s = burst_s
        self.divisor = max(1, divisor)
        self.local = RateLimiter(burst_s)
        self.redis = redis
        self._local_store = "local" if redis is None else "fallback"

    @classmethod
    def from_settings(cls, settings, gw) -> Buckets:
        """The buckets for these settings: `EAGLET_REDIS_URL`, `EAGLET_REDIS_TIMEOUT_S`, and the
        processes sharing the rate (`EAGLET_GATEWAY__REPLICAS` × `EAGLET_GATEWAY__WORKERS`)."""
        divisor = max(1, settings.gateway.replicas) * max(1, settings.gateway.workers)
        redis = None
        if gw.redis_url is not None and gw.redis_url.get_secret_value():
            redis = RedisBuckets(gw.redis_url.get_secret_value(), gw.redis_timeout_s, divisor)
        return cls(gw.rates.burst_s, divisor, redis)

    async def start(self) -> None:
        FALLBACK.set(0)
        if self.redis is not None:
            await self.redis.start()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.close()

    @property
    def shared(self) -> bool:
        return self.redis is not None and self.redis.up

    async def take(self, key: str, rate: float, capacity: float | None = None) -> Decision:
        """Take a token from `key`'s bucket (refilled at `rate` per second; holding `capacity`
        tokens, default `rate × burst_s`)."""
        capacity = max(1.0, rate * self.burst_s if capacity is None else capacity)
        if self.redis is not None and self.redis.up:
            decision = await self.redis.take(key, rate, capacity)
            if decision is not None:
                child(DECISIONS, "redis").inc()
                return decision
        child(DECISIONS, self._local_store).inc()
        n = self.divisor
        return self.local.take(key, rate / n, capacity=max(1.0, capacity / n))

    async def refund(self, key: str, rate: float, capacity: float) -> None:
        """Give back a token taken for an outcome that turned out not to count."""
        capacity = max(1.0, capacity)
        if self.redis is not None and self.redis.up:
            if await self.redis.take(key, rate, capacity, cost=-1) is not None:
                return
        self.local.refund(key, max(1.0, capacity / self.divisor))
