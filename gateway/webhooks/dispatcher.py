"""The webhook dispatcher: fans events out of the feeds into deliveries and sends them.

`run(settings, stop)` is the loop the worker runs until `stop` is set (or run it alone:
`python -m gateway.webhooks.dispatcher`). Two halves, each safe to run in several processes:

Fan-out. For each enabled endpoint and each service whose events it subscribes to, one
transaction: read the feed after the endpoint's cursor with the endpoint's owner as the
principal (so it receives only what its owner could read in the feed), insert one delivery per
event (unique per endpoint and event, so a repeat inserts nothing) and move the cursor to the
page's end. The cursor and the deliveries commit together: an event is never skipped and
never queued twice. An advisory lock per (endpoint, service) keeps two dispatchers off the same
cursor; it is taken without a transaction id, so the feed read is not held back by its own reader.

Sending. Due deliveries are claimed with `FOR UPDATE SKIP LOCKED` and leased (`locked_until`,
`lease`): at most `per_endpoint` leases per endpoint over every dispatcher, so a slow receiver
fills its own slots and no one else's, and at most `max_in_flight` per process. Each attempt
re-checks the URL (gateway/webhooks/ssrf.py), connects to the address it checked, signs with
every secret still valid (the webhook-id is the event id: the same on every attempt), and has
`timeout_s` in all; redirects are not followed. Its outcome is written only while the lease is
still this dispatcher's. A dispatcher that dies mid-delivery leaves the lease to run out; another
then sends the delivery again, with the same webhook-id (at-least-once). Retries follow
gateway/webhooks/schedule.py.

The clock (`clock`), the jitter's random source (`rng`) and name resolution (`resolver`) are
injectable, for tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from gateway.webhooks import schedule, source, ssrf
from gateway.webhooks.catalogue import services_of
from gateway.webhooks.secrets import SecretBox, signature_headers
from services.common.auth import Principal
from services.common.db import plain_url
from services.common.settings import Settings, get_settings

log = logging.getLogger("eaglet.webhooks")

Clock = Callable[[], datetime]
EXCERPT_BYTES = 2048
USER_AGENT = "eaglet-webhooks/1"
# an idle receiver's connections are closed after this; its client after IDLE_CLIENT_S unused
KEEPALIVE_S = 30.0
IDLE_CLIENT_S = 300.0
ERROR_BACKOFF_S = (0.5, 10.0)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    event_id: str
    body: str
    attempts: int  # this attempt's number
    lease: uuid.UUID


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None  # why it failed, when no 2xx came
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and self.error is None

    def describe(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status_code}"


# Cursors of enabled endpoints whose owner is not a revoked API client.
_CURSORS = """
SELECT c.endpoint_id, c.service, e.event_types, e.owner_sub, e.owner_kind, e.owner_org,
       e.owner_region, e.owner_scopes, e.owner_client_id
FROM gateway.webhook_cursors c
JOIN gateway.webhook_endpoints e ON e.id = c.endpoint_id
WHERE e.enabled
  AND NOT EXISTS (SELECT 1 FROM gateway.api_clients a
                  WHERE a.id = e.owner_client_id AND a.revoked_at IS NOT NULL)
ORDER BY c.endpoint_id, c.service
"""

_FAN_OUT = """
INSERT INTO gateway.webhook_deliveries (id, endpoint_id, event_id, event_type, body, next_attempt_at)
SELECT gen_random_uuid(), $1, e.id, e.type, e.body, $5
FROM unnest($2::text[], $3::text[], $4::text[]) AS e(id, type, body)
ON CONFLICT (endpoint_id, event_id) DO NOTHING
"""

# Up to $2 leases per endpoint (counting those other dispatchers hold), $3 in all.
_CLAIM = """
WITH due AS (
    SELECT e.id, e.url
    FROM gateway.webhook_endpoints e
    WHERE e.enabled
      AND e.id IN (SELECT d.endpoint_id FROM gateway.webhook_deliveries d
                   WHERE d.status = 'pending' AND d.next_attempt_at <= $1)
      AND NOT EXISTS (SELECT 1 FROM gateway.api_clients a
                      WHERE a.id = e.owner_client_id AND a.revoked_at IS NOT NULL)
),
picked AS (
    SELECT d.id, due.url
    FROM due
    CROSS JOIN LATERAL (
        SELECT d.id FROM gateway.webhook_deliveries d
        WHERE d.endpoint_id = due.id AND d.status = 'pending' AND d.next_attempt_at <= $1
          AND (d.locked_until IS NULL OR d.locked_until <= $1)
        ORDER BY d.next_attempt_at, d.id
        LIMIT GREATEST(0, $2 - (SELECT count(*) FROM gateway.webhook_deliveries b
                                WHERE b.endpoint_id = due.id AND b.status = 'pending'
                                  AND b.locked_until > $1))
        FOR UPDATE SKIP LOCKED
    ) d
    LIMIT $3
)
UPDATE gateway.webhook_deliveries d
   SET locked_until = $1 + make_interval(secs => $4), lease = $5, attempts = d.attempts + 1,
       last_attempt_at = $1
  FROM picked
 WHERE d.id = picked.id
RETURNING d.id, d.endpoint_id, picked.url, d.event_id, d.body, d.attempts
"""

_SECRETS = """
SELECT endpoint_id, sealed FROM gateway.webhook_secrets
WHERE endpoint_id = ANY($1::uuid[]) AND (expires_at IS NULL OR expires_at > $2)
ORDER BY created_at DESC
"""

_DONE = """
UPDATE gateway.webhook_deliveries
   SET status = $3::text, next_attempt_at = $4, locked_until = NULL, lease = NULL,
       last_status_code = $5, last_duration_ms = $6, last_response = $7, last_error = $8,
       delivered_at = CASE WHEN $3::text = 'delivered' THEN $9 ELSE delivered_at END
 WHERE id = $1 AND lease = $2
"""

_ATTEMPT = """
INSERT INTO gateway.webhook_attempts
    (delivery_id, attempt, started_at, status_code, duration_ms, response_excerpt, error, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

_SUCCEEDED = """
UPDATE gateway.webhook_endpoints SET failing_since = NULL
WHERE id = $1 AND failing_since IS NOT NULL
"""

_FAILED = """
UPDATE gateway.webhook_endpoints SET failing_since = COALESCE(failing_since, $2)
WHERE id = $1
RETURNING failing_since, enabled
"""

_DISABLE = """
UPDATE gateway.webhook_endpoints
   SET enabled = false, disabled_reason = $2, disabled_at = $3, updated_at = $3
 WHERE id = $1 AND enabled
"""


def principal_of(row: Any) -> Principal:
    """The endpoint's owner as the gateway knew them at registration."""
    return Principal(
        sub=row["owner_sub"],
        kind=row["owner_kind"],
        org=row["owner_org"],
        region=row["owner_region"],
        scopes=tuple(row["owner_scopes"] or ()),
        client_id=str(row["owner_client_id"]) if row["owner_client_id"] else None,
    )


def clean_excerpt(raw: bytes) -> str:
    """At most 2 KB of a response, as text PostgreSQL can store (no NUL)."""
    return raw[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        resolver: ssrf.Resolver | None = None,
        verify: Any = True,
    ) -> None:
        if not settings.database_url:
            raise RuntimeError("no database configured: set EAGLET_DATABASE_URL")
        self.settings = settings
        self.cfg = settings.webhooks
        self.clock = clock
        self.rng = rng or random.Random()
        self.resolver = resolver
        self.verify = verify  # TLS verification (an ssl.SSLContext in tests)
        self.box = SecretBox(settings)
        self.pool: asyncpg.Pool | None = None
        self._clients: dict[uuid.UUID, tuple[httpx.AsyncClient, float]] = {}
        self._in_flight: set[asyncio.Task] = set()
        self._send_wake = asyncio.Event()  # deliveries queued, or a slot freed

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> Dispatcher:
        db = self.settings.db
        self.pool = await asyncpg.create_pool(
            plain_url(self.settings.database_url or ""),
            min_size=1,
            max_size=max(2, min(10, self.cfg.max_in_flight // 4 + 2)),
            server_settings={
                "application_name": "eaglet-webhooks",
                "statement_timeout": str(db.statement_timeout_ms),
                "TimeZone": "UTC",
            },
        )
        return self

    async def close(self) -> None:
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=self.cfg.timeout_s + 1)
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def __aenter__(self) -> Dispatcher:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("the dispatcher is not started")
        return self.pool

    # -- fan-out ---------------------------------------------------------------------------
    async def fan_out(self) -> tuple[int, bool]:
        """One pass over every followed feed: (deliveries queued, whether a page came back full)."""
        queued, full = 0, False
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(_CURSORS)
            for row in rows:
                n, more = await self._fan_out_one(conn, row)
                queued += n
                full = full or more
        return queued, full

    async def _fan_out_one(self, conn: asyncpg.Connection, row: Any) -> tuple[int, bool]:
        endpoint_id, service = row["endpoint_id"], row["service"]
        types = services_of(list(row["event_types"])).get(service)
        if not types:
            return 0, False
        async with conn.transaction():
            got = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 0))",
                str(endpoint_id),
                service,
            )
            if not got:
                return 0, False  # another dispatcher is on this cursor now
            cursor = await conn.fetchval(
                "SELECT cursor FROM gateway.webhook_cursors WHERE endpoint_id = $1 AND service = $2",
                endpoint_id,
                service,
            )
            if cursor is None:
                return 0, False  # removed meanwhile
            try:
                page = await source.read_events(
                    conn, service, principal_of(row), cursor, types, self.cfg.batch
                )
            except Exception as e:  # a refused cursor (expired): shown on the endpoint, tried again
                why = getattr(e, "detail", None) or str(e) or type(e).__name__
                log.warning("webhook %s: the %s feed refused its cursor: %s", endpoint_id, service, why)
                await conn.execute(
                    "UPDATE gateway.webhook_cursors SET last_error = $3, updated_at = now() "
                    "WHERE endpoint_id = $1 AND service = $2",
                    endpoint_id,
                    service,
                    why[:500],
                )
                return 0, False
            if page.events:
                await conn.execute(
                    _FAN_OUT,
                    endpoint_id,
                    [e.id for e in page.events],
                    [e.type for e in page.events],
                    [json.dumps(e.as_json(), ensure_ascii=False, separators=(",", ":")) for e in page.events],
                    self.clock(),
                )
            if page.next_cursor != cursor:
                await conn.execute(
                    "UPDATE gateway.webhook_cursors SET cursor = $3, updated_at = now(), last_error = NULL "
                    "WHERE endpoint_id = $1 AND service = $2",
                    endpoint_id,
                    service,
                    page.next_cursor,
                )
            # a full page: there is probably more behind it, read on without waiting
            return len(page.events), len(page.events) >= self.cfg.batch

    # -- sending ---------------------------------------------------------------------------
    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries (within every endpoint's share)."""
        if limit <= 0:
            return []
        lease = uuid.uuid4()
        now = self.clock()
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(_CLAIM, now, self.cfg.per_endpoint, limit, self.cfg.lease_s, lease)
        return [
            Claimed(r["id"], r["endpoint_id"], r["url"], r["event_id"], r["body"], r["attempts"], lease)
            for r in rows
        ]

    async def _secrets(self, endpoint_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        out: dict[uuid.UUID, list[str]] = {e: [] for e in endpoint_ids}
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(_SECRETS, endpoint_ids, self.clock())
        for r in rows:
            try:
                out[r["endpoint_id"]].append(self.box.open(r["endpoint_id"], r["sealed"]))
            except ValueError:
                log.error("webhook %s: a signing secret cannot be opened with this key", r["endpoint_id"])
        return out

    async def send_due(self) -> int:
        """Claim what is due now and send it, waiting for every attempt (a test's step)."""
        claimed = await self.claim(self.cfg.max_in_flight)
        if claimed:
            secrets = await self._secrets(sorted({c.endpoint_id for c in claimed}))
            await asyncio.gather(*(self.deliver(c, secrets[c.endpoint_id]) for c in claimed))
        return len(claimed)

    async def deliver(self, d: Claimed, secrets: list[str]) -> Outcome:
        """One attempt: check, sign, send, and record what happened."""
        started = self.clock()
        t0 = time.monotonic()
        try:
            outcome = await asyncio.wait_for(self._attempt(d, secrets, started), self.cfg.timeout_s)
        except TimeoutError:
            outcome = Outcome(error=f"no answer within {self.cfg.timeout_s:g} s")
        except Exception as e:  # never lose the lease's outcome to an unexpected error
            log.exception("webhook delivery %s failed unexpectedly", d.id)
            outcome = Outcome(error=f"internal error: {type(e).__name__}")
        duration_ms = int((time.monotonic() - t0) * 1000)
        await self._record(d, outcome, started, duration_ms)
        return outcome

    async def _attempt(self, d: Claimed, secrets: list[str], started: datetime) -> Outcome:
        try:
            target, address = await ssrf.pinned(d.url, self.settings, self.resolver)
        except ssrf.UrlRefused as e:
            return Outcome(error=f"not sent: {e.message}")
        if not secrets:
            return Outcome(error="not sent: the endpoint has no signing secret that can be read")
        headers = signature_headers(d.event_id, started, d.body, secrets)
        headers["content-type"] = "application/json"
        headers["user-agent"] = USER_AGENT
        # Connect to the address just checked; the receiver still sees its own name (Host, and
        # SNI with the certificate checked against it).
        host = (
            f"[{target.host}]" if target.literal is not None and target.literal.version == 6 else target.host
        )
        default_port = 443 if target.scheme == "https" else 80
        headers["host"] = host if target.port == default_port else f"{host}:{target.port}"
        url = httpx.URL(d.url).copy_with(host=str(address))
        named_tls = target.scheme == "https" and target.literal is None
        extensions = {"sni_hostname": target.host} if named_tls else {}
        client = self._client(d.endpoint_id)
        request = client.build_request(
            "POST", url, content=d.body.encode(), headers=headers, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as e:
            return Outcome(error=f"could not connect or send: {type(e).__name__}: {str(e)[:300]}")
        try:
            raw = b""
            async for chunk in response.aiter_raw():
                raw += chunk
                if len(raw) >= EXCERPT_BYTES:
                    break
        except httpx.HTTPError as e:
            raw += f"[answer cut: {type(e).__name__}]".encode()
        finally:
            await response.aclose()
        status = response.status_code
        error = None
        if 300 <= status < 400:
            where = response.headers.get("location", "")[:300]
            error = f"HTTP {status}: redirected to {where!r}; redirects are not followed"
        return Outcome(status, clean_excerpt(raw), error, response.headers.get("retry-after"))

    def _client(self, endpoint_id: uuid.UUID) -> httpx.AsyncClient:
        """One connection pool per endpoint: its own connections (TLS for its host only), at most
        `per_endpoint` of them, no proxy or netrc from the environment, no redirects."""
        now = time.monotonic()
        entry = self._clients.get(endpoint_id)
        if entry is None:
            n = self.cfg.per_endpoint
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.cfg.timeout_s),
                follow_redirects=False,
                trust_env=False,
                verify=self.verify,
                limits=httpx.Limits(
                    max_connections=n, max_keepalive_connections=n, keepalive_expiry=KEEPALIVE_S
                ),
            )
        else:
            client = entry[0]
        self._clients[endpoint_id] = (client, now)
        return client

    async def _close_idle_clients(self) -> None:
        now = time.monotonic()
        for endpoint_id, (client, used) in list(self._clients.items()):
            if now - used > IDLE_CLIENT_S:
                del self._clients[endpoint_id]
                await client.aclose()

    async def _record(self, d: Claimed, outcome: Outcome, started: datetime, duration_ms: int) -> None:
        now = self.clock()
        if outcome.ok:
            status, next_at = "delivered", None
        else:
            wait = schedule.retry_after(outcome.retry_after, now)
            next_at = schedule.next_attempt_at(d.attempts, now, wait, self.rng)
            status = "pending" if next_at is not None else "failed"
        async with self._pool().acquire() as conn, conn.transaction():
            done = await conn.execute(
                _DONE,
                d.id,
                d.lease,
                status,
                next_at,
                outcome.status_code,
                duration_ms,
                outcome.excerpt,
                outcome.error,
                now,
            )
            if done.split()[-1] == "0":
                log.warning("webhook delivery %s: lease lost before the outcome was written", d.id)
                return
            await conn.execute(
                _ATTEMPT,
                d.id,
                d.attempts,
                started,
                outcome.status_code,
                duration_ms,
                outcome.excerpt,
                outcome.error,
                next_at,
            )
            if outcome.ok:
                await conn.execute(_SUCCEEDED, d.endpoint_id)
                return
            row = await conn.fetchrow(_FAILED, d.endpoint_id, now)
            if row is None or not row["enabled"]:
                return
            reason = None
            if outcome.status_code == schedule.GONE:
                reason = schedule.gone_reason(now)
            elif now - row["failing_since"] >= timedelta(hours=self.cfg.disable_after_failing_h):
                reason = schedule.failing_reason(
                    row["failing_since"], self.cfg.disable_after_failing_h, outcome.describe()
                )
            if reason is not None:
                await conn.execute(_DISABLE, d.endpoint_id, reason, now)
                log.warning("webhook %s disabled: %s", d.endpoint_id, reason)

    # -- the loop --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self._loop(stop, self._fan_out_round), name="webhooks fan-out"),
            asyncio.create_task(self._loop(stop, self._send_round, self._send_wake), name="webhooks send"),
        ]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, stop: asyncio.Event, round_: Callable, wake: asyncio.Event | None = None) -> None:
        backoff = ERROR_BACKOFF_S[0]
        while not stop.is_set():
            try:
                again = await round_()
                backoff = ERROR_BACKOFF_S[0]
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("webhooks: %s: %s; again in %.1f s", type(e).__name__, e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, ERROR_BACKOFF_S[1])
                continue
            if not again:
                await self._idle(stop, wake)

    async def _idle(self, stop: asyncio.Event, wake: asyncio.Event | None) -> None:
        """Wait for the poll interval, the stop, or (the sender) new work."""
        waits = [asyncio.ensure_future(stop.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=self.cfg.poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if wake is not None:
            wake.clear()

    async def _fan_out_round(self) -> bool:
        queued, more = await self.fan_out()
        if queued:
            self._send_wake.set()
        return more

    async def _send_round(self) -> bool:
        free = self.cfg.max_in_flight - len(self._in_flight)
        claimed = await self.claim(free)
        if claimed:
            secrets = await self._secrets(sorted({c.endpoint_id for c in claimed}))
            for c in claimed:
                task = asyncio.create_task(self.deliver(c, secrets[c.endpoint_id]))
                self._in_flight.add(task)
                task.add_done_callback(self._sent)
        else:
            await self._close_idle_clients()
        # claimed a full share: there may be more due at once
        return len(claimed) == free and free > 0

    def _sent(self, task: asyncio.Task) -> None:
        self._in_flight.discard(task)
        self._send_wake.set()  # a slot is free, and its endpoint may have more due


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """The worker's loop: dispatch webhooks until `stop` is set."""
    async with Dispatcher(settings) as dispatcher:
        await dispatcher.run(stop)


def main() -> None:  # pragma: no cover - a process entry point, exercised by tests as a subprocess
    from services.common.logging import configure_logging

    settings = get_settings()
    configure_logging("webhooks", settings.log_level)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    asyncio.run(go())


if __name__ == "__main__":
    main()
