"""Token buckets per client (rate per kind, or the client's own), per IP on public routes, and
per IP for failed authentications (`authfail:<ip>`: taken before a credential is looked up,
given back unless it is refused).

In memory, per gateway process: with N replicas behind a load balancer each replica keeps its
own buckets, so a client may reach up to N times its rate (see docs/gateway.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


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
