"""Prometheus metrics: one registry per process, labelled by service so tests can host several apps.

With several uvicorn workers on one port (`eaglet serve --workers N`) a scrape reaches one of them:
`eaglet serve` then gives the workers one directory (``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's
multi-process mode) and ``render`` reports every worker's counts summed (gauges: their maximum,
over the workers alive; a worker marks itself dead as it shuts down).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUEST_LATENCY = Histogram(
    "eaglet_http_request_duration_seconds",
    "Request latency by route template",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUESTS = Counter(
    "eaglet_http_requests_total",
    "Requests by route template and status",
    ["service", "method", "route", "status"],
)


@cache
def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once: labels() validates and locks on every call. Label
    values here are bounded sets (route templates, statuses, upstream names)."""
    return metric.labels(*labels)


def observe_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    child(REQUEST_LATENCY, service, method, route).observe(seconds)
    child(REQUESTS, service, method, route, str(status)).inc()


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def render() -> tuple[bytes, str]:
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def process_exiting() -> None:
    """At a worker's shutdown: its gauges no longer count (multi-process mode only)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
