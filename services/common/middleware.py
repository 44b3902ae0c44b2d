"""Pure-ASGI middleware shared by every process (no per-request BaseHTTPMiddleware overhead).

- ``RequestContextMiddleware``: honours or generates ``X-Request-ID``, echoes it, writes one JSON
  access-log line and the Prometheus latency/status metrics per route template, and refuses a path
  that names nothing (``services.common.paths``) before anything routes on it.
- ``BodyLimitMiddleware``: answers 413 problem for bodies over the configured limit, whether the
  client announced the length or streamed it. A route that streams its body to storage (file
  submissions) has a limit of its own, by exact path (``limits``).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import paths
from services.common.context import client_id_var, request_id_var
from services.common.errors import (
    DEFAULT_RETRY_AFTER_S,
    InternalError,
    PayloadTooLarge,
    Problem,
    database_problem,
    problem_body,
    problem_response,
)
from services.common.metrics import observe_request

access_log = logging.getLogger("eaglet.access")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: str, retry_after_s: int = DEFAULT_RETRY_AFTER_S) -> None:
        self.app = app
        self.service = service
        self.retry_after_s = retry_after_s  # on a 503 database_unavailable (errors.connection_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        rid = incoming if incoming and _REQUEST_ID_OK.match(incoming) else secrets.token_hex(16)
        token = request_id_var.set(rid)
        client_token = client_id_var.set(None)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            try:
                paths.decode(paths.raw_path(scope))
            except Problem as p:
                await problem_response(p.status, p.code, p.detail, errors=p.errors)(
                    scope, receive, send_wrapper
                )
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception as e:
            # The one place unhandled errors end: logged with the request id, answered as a
            # 500 problem that carries the request id and nothing internal — or, when the
            # database went away, was busy or broke a conflict (outside a route: the
            # Idempotency-Key claim, a fast route), its 503 problem (errors.database_problem).
            refused = database_problem(e, self.retry_after_s)
            if refused is not None:
                access_log.warning("database refused %s %s: %r", scope["method"], scope["path"], e)
            else:
                access_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            p = refused or InternalError()
            status = p.status
            if not response_started:
                body = json.dumps(problem_body(p.status, p.code, p.detail)).encode()
                headers = [(b"content-type", b"application/problem+json")]
                headers += [(k.lower().encode(), v.encode()) for k, v in (p.headers or {}).items()]
                await send_wrapper({"type": "http.response.start", "status": p.status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            observe_request(self.service, scope["method"], template, status, elapsed)
            if access_log.isEnabledFor(logging.INFO) and template not in ("/healthz", "/metrics"):
                access_log.info(
                    "request",
                    extra={
                        "request_id": rid,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "client_id": client_id_var.get(),
                    },
                )
            request_id_var.reset(token)
            client_id_var.reset(client_token)


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = limits or {}

    async def _reject(self, send: Send, limit: int) -> None:
        p = PayloadTooLarge(limit=limit)
        body = json.dumps(problem_body(p.status, p.code, p.detail)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.max_bytes)
        length = header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)
