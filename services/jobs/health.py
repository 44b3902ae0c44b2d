"""The job worker's probes and metrics over HTTP, for an orchestrator (EAGLET_JOBS__HEALTH_PORT;
0, the default, serves none): `/healthz` (the event loop answers and procrastinate's worker is
running), `/readyz` (the database answers on the worker's pool within 3 s), `/metrics`
(Prometheus). GET and HEAD only; anything else is an RFC 9457 problem, and a request that is not
HTTP/1.x, or whose head is longer than 8 KiB or slower than 5 s, is answered 400 or dropped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import suppress
from functools import partial

import asyncpg

from services.common.metrics import render
from services.common.settings import Settings

MAX_HEAD = 8 * 1024
HEAD_TIMEOUT_S = 5.0
READY_TIMEOUT_S = 3.0
PATHS = (b"/healthz", b"/readyz", b"/metrics")
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


async def serve(settings: Settings, db: asyncpg.Pool, alive: Callable[[], bool], stop: asyncio.Event) -> None:
    """Answer probes on EAGLET_JOBS__HEALTH_HOST:PORT until `stop` is set."""
    jobs = settings.jobs
    server = await asyncio.start_server(
        partial(_handle, db, alive), jobs.health_host, jobs.health_port, limit=MAX_HEAD
    )
    async with server:
        await stop.wait()


def _problem(status: int, code: str, detail: str) -> tuple[int, bytes, str]:
    body = {"type": "about:blank", "title": REASONS[status], "status": status, "code": code, "detail": detail}
    return status, json.dumps(body).encode(), "application/problem+json"


async def _answer(db: asyncpg.Pool, alive: Callable[[], bool], path: bytes) -> tuple[int, bytes, str]:
    if path == b"/healthz":
        if not alive():
            return _problem(503, "worker_stopped", "the job worker is not running")
        return 200, b'{"status": "ok"}', "application/json"
    if path == b"/readyz":
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                await db.fetchval("SELECT 1")
        except Exception:
            return _problem(503, "database_unavailable", "the database did not answer")
        return 200, b'{"status": "ready"}', "application/json"
    body, content_type = render()
    return 200, body, content_type


async def _handle(
    db: asyncpg.Pool, alive: Callable[[], bool], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    extra = ""
    try:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            return
        except asyncio.LimitOverrunError:
            head = b""
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        method = parts[0] if parts else b""
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            status, body, content_type = _problem(400, "invalid_http_request", "not an HTTP/1.x request")
        elif (path := parts[1].split(b"?", 1)[0]) not in PATHS:
            status, body, content_type = _problem(
                404, "not_found", "the worker answers /healthz, /readyz and /metrics"
            )
        elif method not in (b"GET", b"HEAD"):
            status, body, content_type = _problem(405, "method_not_allowed", "GET or HEAD")
            extra = "allow: GET, HEAD\r\n"
        else:
            status, body, content_type = await _answer(db, alive, path)
        head_out = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(body)}\r\n{extra}connection: close\r\n\r\n"
        )
        writer.write(head_out.encode() + (b"" if method == b"HEAD" else body))
        with suppress(ConnectionError):
            await writer.drain()
    finally:
        writer.close()
        with suppress(Exception):
            await writer.wait_closed()
