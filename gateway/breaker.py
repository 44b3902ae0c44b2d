"""A circuit breaker per upstream: opens after consecutive failures, lets one probe through after
``open_s``, closes again when the probe succeeds. Its state is exported as a Prometheus gauge.

What is a failure is the caller's to say (``Upstream.open``): only upstream faults count, never
a client's own error."""

from __future__ import annotations

import math
import time

from prometheus_client import Gauge

BREAKER_STATE = Gauge(
    "eaglet_gateway_breaker_state",
    "Circuit breaker state per upstream (0 closed, 1 half-open, 2 open)",
    ["upstream"],
    multiprocess_mode="livemax",  # several workers: the most open of them
)
STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    def __init__(self, name: str, failures: int, open_s: float) -> None:
        self.name = name
        self.threshold = max(1, failures)
        self.open_s = open_s
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.probe_started = 0.0
        self._set("closed")

    def _set(self, state: str) -> None:
        self.state = state
        BREAKER_STATE.labels(self.name).set(STATE_VALUE[state])

    def allow(self) -> bool:
        """May a request go to the upstream now? (In half-open state, one probe at a time.)"""
        if self.state == "closed":
            return True
        now = time.monotonic()
        if self.state == "open":
            if now - self.opened_at < self.open_s:
                return False
            self._set("half_open")
            self.probe_started = now
            return True
        # half-open: a probe is out; let another through only if it seems lost
        if now - self.probe_started > max(self.open_s, 30.0):
            self.probe_started = now
            return True
        return False

    def retry_after(self) -> int:
        if self.state == "open":
            return max(1, math.ceil(self.open_s - (time.monotonic() - self.opened_at)))
        return max(1, math.ceil(self.open_s))

    def success(self) -> None:
        self.failures = 0
        if self.state != "closed":
            self._set("closed")

    def inconclusive(self) -> None:
        """A call ended without showing whether the upstream is well — the caller broke it off,
        or it was cancelled. It counts neither way; a half-open breaker's probe slot is free again."""
        if self.state == "half_open":
            self.probe_started = -math.inf

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self.opened_at = time.monotonic()
            self._set("open")
