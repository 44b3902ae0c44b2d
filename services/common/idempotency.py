"""``Idempotency-Key`` on POST, as architecture.md specifies, stored per schema.

- same key + same request (method, path, query, body) → the stored response, with
  ``Idempotent-Replayed: true``;
- same key + a different request → 422 problem ``idempotency_key_reused``;
- same key while the first request still runs → 409 problem ``idempotency_in_flight``.

Keys are per caller (the verified principal). The key is claimed in its own short transaction
before the request runs; the response is stored after the request's unit of work has committed.
A 5xx releases the key so the client may retry. A claim left in flight by a crashed process is
taken over after ``idempotency_in_flight_timeout_s`` (natural-key upserts make the re-run safe).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import PRINCIPAL_HEADER, verify_principal
from services.common.errors import Problem, problem_body
from services.common.settings import Settings

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", ())}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, schema: str, get_engine: Callable[[], AsyncEngine], settings: Settings):
        self.app = app
        self.table = f"{schema}.idempotency_keys"
        self.get_engine = get_engine
        self.settings = settings

    async def _send_problem(self, send: Send, status: int, code: str, detail: str) -> None:
        body = json.dumps(
            problem_body(
                status,
                code,
                detail,
                errors=[{"pointer": "#/header/idempotency-key", "code": code, "message": detail}],
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/problem+json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        key_raw = headers.get(HEADER)
        token = headers.get(PRINCIPAL_HEADER.lower().encode())
        if key_raw is None or token is None:
            await self.app(scope, receive, send)
            return
        key = key_raw.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            await self._send_problem(
                send, 400, "invalid_idempotency_key", f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} characters"
            )
            return
        try:
            principal = verify_principal(token.decode("latin-1"), self.settings)
        except Problem:
            await self.app(scope, receive, send)  # the route answers 401
            return
        owner = f"{principal.kind}:{principal.org or ''}:{principal.sub}"

        # Read the whole body once (the body limit middleware runs outside this one).
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        digest = hashlib.sha256(
            b"\n".join(
                [scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body]
            )
        ).hexdigest()

        engine = self.get_engine()
        stored = await self._claim(engine, owner, key, digest)
        if stored == "claimed":
            pass
        elif stored == "mismatch":
            await self._send_problem(
                send, 422, "idempotency_key_reused", "this Idempotency-Key was used with a different request"
            )
            return
        elif stored == "in_flight":
            await self._send_problem(
                send,
                409,
                "idempotency_in_flight",
                "a request with this Idempotency-Key is still being processed",
            )
            return
        else:
            status, content_type, payload = stored
            out_headers = [(b"idempotent-replayed", b"true")]
            if content_type:
                out_headers.append((b"content-type", content_type.encode()))
            await send({"type": "http.response.start", "status": status, "headers": out_headers})
            await send({"type": "http.response.body", "body": payload or b""})
            return

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        content_type = None
        out = []

        async def capture_send(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", ()):
                    if k.lower() == b"content-type":
                        content_type = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            await self._finish(engine, owner, key, status, content_type, b"".join(out))

    async def _claim(self, engine: AsyncEngine, owner: str, key: str, digest: str):
        timeout = self.settings.idempotency_in_flight_timeout_s
        async with engine.begin() as conn:
            if random.random() < 0.01:  # opportunistic expiry; keys are kept at least 24 h
                await conn.execute(
                    text(f"DELETE FROM {self.table} WHERE created_at < now() - make_interval(hours => :h)"),
                    {"h": self.settings.idempotency_retention_h},
                )
            inserted = await conn.execute(
                text(
                    f"INSERT INTO {self.table} (owner, key, request_hash, state) VALUES (:o, :k, :h, 'in_flight') "
                    "ON CONFLICT DO NOTHING RETURNING 1"
                ),
                {"o": owner, "k": key, "h": digest},
            )
            if inserted.first():
                return "claimed"
            row = (
                await conn.execute(
                    text(
                        f"SELECT request_hash, state, status_code, content_type, response_body, "
                        f"created_at < now() - make_interval(secs => :t) AS stale "
                        f"FROM {self.table} WHERE owner = :o AND key = :k FOR UPDATE"
                    ),
                    {"o": owner, "k": key, "t": timeout},
                )
            ).first()
            if row is None:  # released between our insert and select: claim again
                await conn.execute(
                    text(
                        f"INSERT INTO {self.table} (owner, key, request_hash, state) VALUES (:o, :k, :h, 'in_flight')"
                    ),
                    {"o": owner, "k": key, "h": digest},
                )
                return "claimed"
            if row.request_hash != digest:
                return "mismatch"
            if row.state == "in_flight":
                if not row.stale:
                    return "in_flight"
                await conn.execute(
                    text(f"UPDATE {self.table} SET created_at = now() WHERE owner = :o AND key = :k"),
                    {"o": owner, "k": key},
                )
                return "claimed"
            return (row.status_code, row.content_type, row.response_body)

    async def _finish(
        self, engine: AsyncEngine, owner: str, key: str, status: int, content_type: str | None, payload: bytes
    ) -> None:
        async with engine.begin() as conn:
            if status >= 500:
                await conn.execute(
                    text(f"DELETE FROM {self.table} WHERE owner = :o AND key = :k"), {"o": owner, "k": key}
                )
            else:
                await conn.execute(
                    text(
                        f"UPDATE {self.table} SET state = 'done', status_code = :s, content_type = :c, "
                        "response_body = :b, completed_at = now() WHERE owner = :o AND key = :k"
                    ),
                    {"o": owner, "k": key, "s": status, "c": content_type, "b": payload},
                )
