"""``Idempotency-Key`` on POST, as architecture.md specifies, stored per schema.

- same key + same request → the stored response, with ``Idempotent-Replayed: true``;
- same key + a different request → 422 problem ``idempotency_key_reused``;
- same key while the first request still runs → 409 problem ``idempotency_in_flight`` with
  ``Retry-After`` (seconds until the running request's lease would run out).

Two requests are the same when method and path are equal, their queries hold the same parameters
(in any order; repeated parameters in their order) and their bodies are equal: parsed, for a JSON
body (key order and whitespace do not matter), else byte for byte.

Keys are per caller: the verified principal in a service (``principal_owner``), the authenticated
caller at the gateway's own routes (``gateway/idempotency.py``); a request whose caller is not
established (no or a bad credential) runs unclaimed, and its route answers the 401. The key is claimed in its own short transaction
before the request runs; the response is stored after the request's unit of work has committed
and before the response's last part is sent, so a client retrying at once is answered the replay.
A 5xx releases the key so the client may retry.

A claim records its holder (this process) and a lease that the holder renews while the request
runs (every third of ``idempotency_lease_s``). When the holder dies — the process crashed, or its
database went away so it could neither finish nor renew — the lease runs out within
``idempotency_lease_s`` and the next retry takes the claim over; a claim that this very process
holds but no longer runs is taken over at once. Natural-key upserts make such a re-run safe.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import PRINCIPAL_HEADER, verify_principal
from services.common.errors import (
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    Problem,
    problem_body,
)
from services.common.settings import Settings
from services.common.types import text_problem

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
log = logging.getLogger("eaglet.idempotency")

_PROCESS_TOKEN = secrets.token_hex(4)
# claim token → table, for every request this process runs, or is about to run, under a key. A
# token is entered before its claim is written: a claim of this process's that is not here is
# one whose request is gone (and is taken over), never one whose request has yet to start.
_RUNNING: dict[str, str] = {}


def expired_keys_sql(table: str, hours: str) -> str:
    """The statement removing a table's keys older than the retention (`hours`: its parameter's
    placeholder). Run now and then as a request claims a key, and by the worker's periodic
    purge (services/jobs/upkeep.py) on every schema."""
    return f"DELETE FROM {table} WHERE created_at < now() - make_interval(hours => {hours})"


def process_holder() -> str:
    """This process as the holder of its claims (host, pid, and a token per start)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}"


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def request_digest(method: str, path: str, query: bytes, content_type: str | None, body: bytes) -> str:
    """What makes two requests the same (see the module docstring), as a SHA-256 hex digest."""
    params = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="surrogateescape")
    params.sort(key=lambda kv: kv[0])  # stable: repeated parameters keep their order
    canonical, kind = body, b"bytes"
    if _is_json(content_type):
        try:
            parsed = json.loads(body)
        except ValueError:
            pass
        else:
            canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
            kind = b"json"
    digest = hashlib.sha256(json.dumps([method, path, params]).encode())
    digest.update(b"\0" + kind + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", ())}


# Who owns a request's key: an owner string, or None when the caller is not established.
OwnerOf = Callable[[Scope, dict[bytes, bytes]], Awaitable[str | None]]


def owner_name(kind: str, org: str | None, sub: str) -> str:
    return f"{kind}:{org or ''}:{sub}"


def principal_owner(settings: Settings) -> OwnerOf:
    """A service's callers: the principal the gateway signed (X-Eaglet-Principal)."""

    async def owner_of(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        token = headers.get(PRINCIPAL_HEADER.lower().encode())
        if token is None:
            return None
        try:
            principal = verify_principal(token.decode("latin-1"), settings)
        except Problem:
            return None  # the route answers 401
        return owner_name(principal.kind, principal.org, principal.sub)

    return owner_of


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        schema: str,
        get_engine: Callable[[], AsyncEngine],
        settings: Settings,
        owner_of: OwnerOf | None = None,
        streamed: frozenset[str] = frozenset(),
    ):
        self.app = app
        # Paths whose body streams to storage (file submissions): the route honours the key on
        # the file's digest itself, as this layer would buffer the whole body to hash it.
        self.streamed = streamed
        self.table = f"{schema}.idempotency_keys"
        self.get_engine = get_engine
        self.settings = settings
        self.owner_of = owner_of or principal_owner(settings)
        self.lease_s = settings.idempotency_lease_s
        self._heartbeat_task: asyncio.Task | None = None

    async def _send_problem(self, send: Send, p: Problem, headers: list[tuple[bytes, bytes]] = ()) -> None:
        body = json.dumps(problem_body(p.status, p.code, p.detail, errors=p.errors)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": p.status,
                "headers": [(b"content-type", b"application/problem+json"), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in self.streamed:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        key_raw = headers.get(HEADER)
        if key_raw is None:
            await self.app(scope, receive, send)
            return
        owner = await self.owner_of(scope, headers)
        if owner is None:
            await self.app(scope, receive, send)  # no established caller: the route answers 401
            return
        key = key_raw.decode("latin-1").strip()
        refused = text_problem(key)  # the kit's text rule: a key is stored and compared as text
        if not key or len(key) > MAX_KEY_LENGTH or refused:
            why = f": {refused[1]}" if refused else ""
            await self._send_problem(
                send,
                InvalidIdempotencyKey(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} characters of text{why}"),
            )
            return

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
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        digest = request_digest(
            scope["method"], scope["path"], scope.get("query_string", b""), content_type, body
        )

        engine = self.get_engine()
        claim = secrets.token_hex(8)
        self._hold(claim)  # before the claim is written (see _RUNNING)
        stored: object = None
        try:
            stored = await self._claim(engine, owner, key, digest, claim)
        finally:
            if stored != "claimed":
                self._release(claim)
        if stored == "claimed":
            pass
        elif stored == "mismatch":
            await self._send_problem(send, IdempotencyKeyReused())
            return
        elif isinstance(stored, int):  # in flight: seconds until its lease runs out
            await self._send_problem(
                send,
                IdempotencyInFlight(
                    f"a request with this Idempotency-Key is still being processed; retry in {stored} s"
                ),
                [(b"retry-after", str(stored).encode())],
            )
            return
        else:
            status, stored_type, payload = stored
            out_headers = [(b"idempotent-replayed", b"true")]
            if stored_type:
                out_headers.append((b"content-type", stored_type.encode()))
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
        response_type = None
        out = []
        last: Message | None = None

        async def capture_send(message: Message) -> None:
            nonlocal status, response_type, last
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", ()):
                    if k.lower() == b"content-type":
                        response_type = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
                if not message.get("more_body", False):
                    last = message  # held until the answer is stored: see below
                    return
            await send(message)

        # A client that has the whole answer and retries at once must find it stored: the answer's
        # last part goes out after the store, and the claim counts as running until then.
        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            await self._finish(engine, owner, key, claim, status, response_type, b"".join(out))
            self._release(claim)
        if last is not None:
            await send(last)

    # ---- claims and leases -------------------------------------------------------------------

    def _hold(self, claim: str) -> None:
        _RUNNING[claim] = self.table
        task = self._heartbeat_task
        if task is None or task.done():  # its own context: not the request's id in its logs
            self._heartbeat_task = asyncio.get_running_loop().create_task(
                self._heartbeat(), context=contextvars.Context()
            )

    def _release(self, claim: str) -> None:
        _RUNNING.pop(claim, None)

    async def _heartbeat(self) -> None:
        """Renew the leases of the requests this process runs under keys of this table (one
        statement for all of them) while there are any."""
        interval = max(self.lease_s / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            claims = [c for c, table in _RUNNING.items() if table == self.table]
            if not claims:
                self._heartbeat_task = None
                return
            try:
                async with self.get_engine().begin() as conn:
                    await conn.execute(
                        text(
                            f"UPDATE {self.table} SET lease_until = now() + make_interval(secs => :s) "
                            "WHERE holder = :h AND claim = ANY(:c) AND state = 'in_flight'"
                        ),
                        {"s": self.lease_s, "h": process_holder(), "c": claims},
                    )
            except Exception:  # the database is away: the leases run out, the retries take over
                log.warning("could not renew %d Idempotency-Key leases", len(claims), exc_info=True)

    async def _claim(self, engine: AsyncEngine, owner: str, key: str, digest: str, claim: str):
        """'claimed', 'mismatch', seconds until a running claim's lease runs out, or the stored
        response (status, content type, body)."""
        params = {"o": owner, "k": key, "d": digest, "h": process_holder(), "c": claim, "s": self.lease_s}
        async with engine.begin() as conn:
            if random.random() < 0.01:  # opportunistic expiry; keys are kept at least 24 h
                await conn.execute(
                    text(expired_keys_sql(self.table, ":h")), {"h": self.settings.idempotency_retention_h}
                )
            insert = text(
                f"INSERT INTO {self.table} (owner, key, request_hash, state, holder, claim, lease_until) "
                "VALUES (:o, :k, :d, 'in_flight', :h, :c, now() + make_interval(secs => :s)) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            )
            if (await conn.execute(insert, params)).first():
                return "claimed"
            row = (
                await conn.execute(
                    text(
                        "SELECT request_hash, state, status_code, content_type, response_body, holder, "
                        "claim, ceil(extract(epoch FROM lease_until - now()))::int AS lease_left "
                        f"FROM {self.table} WHERE owner = :o AND key = :k FOR UPDATE"
                    ),
                    params,
                )
            ).first()
            if row is None:  # released between our insert and select: claim again
                await conn.execute(insert, params)
                return "claimed"
            if row.request_hash != digest:
                return "mismatch"
            if row.state != "in_flight":
                return (row.status_code, row.content_type, row.response_body)
            lease_left = row.lease_left if row.lease_left is not None else 0  # no lease: before leases
            ours_but_gone = row.holder == process_holder() and row.claim not in _RUNNING
            if lease_left > 0 and not ours_but_gone:
                return lease_left
            await conn.execute(
                text(
                    f"UPDATE {self.table} SET holder = :h, claim = :c, created_at = now(), "
                    "lease_until = now() + make_interval(secs => :s) WHERE owner = :o AND key = :k"
                ),
                params,
            )
            return "claimed"

    async def _finish(
        self,
        engine: AsyncEngine,
        owner: str,
        key: str,
        claim: str,
        status: int,
        content_type: str | None,
        payload: bytes,
    ) -> None:
        """Store the response (or release the key after a 5xx) — if the claim is still ours: one
        taken over after our lease ran out belongs to the request that took it."""
        params = {"o": owner, "k": key, "c": claim}
        try:
            async with engine.begin() as conn:
                if status >= 500:
                    await conn.execute(
                        text(f"DELETE FROM {self.table} WHERE owner = :o AND key = :k AND claim = :c"), params
                    )
                else:
                    await conn.execute(
                        text(
                            f"UPDATE {self.table} SET state = 'done', status_code = :s, content_type = :t, "
                            "response_body = :b, completed_at = now(), lease_until = NULL "
                            "WHERE owner = :o AND key = :k AND claim = :c"
                        ),
                        {**params, "s": status, "t": content_type, "b": payload},
                    )
        except Exception:  # the database is away: the claim's lease runs out, a retry takes it over
            log.warning("could not finish the Idempotency-Key claim of %s", owner, exc_info=True)
