"""The webhook dispatcher: fans events out of the feeds into deliveries and sends them.

`run(settings, stop)` is the loop the worker runs until `stop` is set (or run it alone:
`python -m gateway.webhooks.dispatcher`). Three loops, each safe with several dispatchers at once:

Fan-out. For each enabled endpoint and each service whose events it subscribes to: read the feed
after the endpoint's cursor with the endpoint's owner as the principal (so it receives only what
its owner could read in the feed), then in one transaction insert one delivery per event (unique
per endpoint and event) and move the cursor to the page's end, only from where it was read
(another dispatcher that moved it first wins; this one's transaction is rolled back). An event is
never skipped and never queued twice. The page is read before the transaction, so the reader
holds no transaction id while it reads (the feed serves only rows below every running one).

Sending. Due deliveries are claimed with `FOR UPDATE SKIP LOCKED` and leased (`locked_until`,
`lease`), per endpoint up to twice `per_endpoint` over every dispatcher: those being sent and as
many next in line. A dispatcher sends at most `per_endpoint` to one endpoint at once (and
`max_in_flight` in all), so a slow receiver fills its own slots and no one else's; when an
attempt ends, its endpoint's next in line starts at once. Each attempt re-checks the URL
(gateway/webhooks/ssrf.py), connects to the address it checked, signs with every secret still
valid (the webhook-id is the event id: the same on every attempt), and has `timeout_s` in all;
redirects are not followed. One whose lease would run out before its attempt could end is not
sent (its lease is given back).

Outcomes. Written in batches, each only while its lease is still this dispatcher's, with the
attempt log and the endpoints' failing periods and disabling (gateway/webhooks/schedule.py). A
dispatcher that dies mid-delivery leaves the lease to run out; another then sends the delivery
again, with the same webhook-id (at-least-once).

Deliveries go out with aiohttp, one pool per endpoint: on the same pipeline it sent 2.8 times as
many per second as httpx (docs/architecture.md, Measurements). The clock (`clock`), the jitter's
random source (`rng`), name resolution (`resolver`) and TLS verification (`verify`) are
injectable, for tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import yarl

from gateway.webhooks import schedule, source, ssrf
from gateway.webhooks.catalogue import services_of
from gateway.webhooks.models import owner_principal
from gateway.webhooks.secrets import SecretBox, signature_headers
from services.common.db import connect_options, plain_url
from services.common.errors import Problem
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
    leased_until: datetime


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


# The feeds to follow: the cursors of enabled endpoints whose owner is not a revoked API client.
_CURSORS = """
SELECT c.endpoint_id, c.service, c.cursor, e.event_types, e.owner_sub, e.owner_kind, e.owner_org,
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

# The cursor moves only from where this page was read: another dispatcher that moved it first
# wins, and this one's transaction (its deliveries, duplicates of the other's) is rolled back.
_ADVANCE = """
UPDATE gateway.webhook_cursors SET cursor = $4, updated_at = now(), last_error = NULL
WHERE endpoint_id = $1 AND service = $2 AND cursor = $3
"""

_FEED_REFUSED = """
UPDATE gateway.webhook_cursors SET last_error = $3, updated_at = now()
WHERE endpoint_id = $1 AND service = $2
"""

# Per enabled endpoint, its earliest due deliveries not leased: as many as its share leaves
# ($2 leases per endpoint, counting those other dispatchers hold: the ones being sent and those
# next in line), $3 in all; leased for $4 s.
_CLAIM = """
WITH picked AS (
    SELECT d.id, e.url
    FROM gateway.webhook_endpoints e
    CROSS JOIN LATERAL (
        SELECT d.id FROM gateway.webhook_deliveries d
        WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1
          AND (d.locked_until IS NULL OR d.locked_until <= $1)
        ORDER BY d.next_attempt_at
        LIMIT GREATEST(0, $2 - (SELECT count(*) FROM gateway.webhook_deliveries b
                                WHERE b.endpoint_id = e.id AND b.status = 'pending'
                                  AND b.locked_until > $1))
        FOR UPDATE SKIP LOCKED
    ) d
    WHERE e.enabled
      AND NOT EXISTS (SELECT 1 FROM gateway.api_clients a
                      WHERE a.id = e.owner_client_id AND a.revoked_at IS NOT NULL)
    LIMIT $3
)
UPDATE gateway.webhook_deliveries d
   SET locked_until = $1 + make_interval(secs => $4), lease = $5, attempts = d.attempts + 1,
       last_attempt_at = $1
  FROM picked
 WHERE d.id = picked.id
RETURNING d.id, d.endpoint_id, picked.url, d.event_id, d.body, d.attempts
"""

_RELEASE = """
UPDATE gateway.webhook_deliveries SET locked_until = NULL, lease = NULL
WHERE id = ANY($1::uuid[]) AND lease = ANY($2::uuid[])
"""

_SECRETS = """
SELECT endpoint_id, sealed FROM gateway.webhook_secrets
WHERE endpoint_id = ANY($1::uuid[]) AND (expires_at IS NULL OR expires_at > $2)
ORDER BY created_at DESC
"""

# The outcomes of many attempts in one statement: each written only while its lease is still
# this dispatcher's, and logged as an attempt.
_OUTCOMES = """
WITH o AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::int[], $6::int[],
                         $7::text[], $8::text[], $9::timestamptz[], $10::int[], $11::timestamptz[])
        AS o(id, lease, status, next_at, code, ms, excerpt, error, finished, attempt, started)
),
done AS (
    UPDATE gateway.webhook_deliveries d
       SET status = o.status, next_attempt_at = o.next_at, locked_until = NULL, lease = NULL,
           last_status_code = o.code, last_duration_ms = o.ms, last_response = o.excerpt,
           last_error = o.error,
           delivered_at = CASE WHEN o.status = 'delivered' THEN o.finished ELSE d.delivered_at END
      FROM o
     WHERE d.id = o.id AND d.lease = o.lease
    RETURNING d.id
)
INSERT INTO gateway.webhook_attempts
    (delivery_id, attempt, started_at, status_code, duration_ms, response_excerpt, error, next_attempt_at)
SELECT o.id, o.attempt, o.started, o.code, o.ms, o.excerpt, o.error, o.next_at FROM o JOIN done USING (id)
RETURNING delivery_id
"""

# Each endpoint's failing period after a batch of outcomes: with a success among them, since the
# first failure after the last success (or none); without, since when it was, or else since this
# batch's first failure.
_FAILING = """
WITH u AS (
    SELECT * FROM unnest($1::uuid[], $2::bool[], $3::timestamptz[]) AS u(id, succeeded, failing_from)
)
UPDATE gateway.webhook_endpoints e
   SET failing_since = CASE WHEN u.succeeded THEN u.failing_from
                            ELSE COALESCE(e.failing_since, u.failing_from) END
  FROM u
 WHERE e.id = u.id
   AND e.failing_since IS DISTINCT FROM (CASE WHEN u.succeeded THEN u.failing_from
                                              ELSE COALESCE(e.failing_since, u.failing_from) END)
"""

_STILL_FAILING = """
SELECT id, failing_since FROM gateway.webhook_endpoints
WHERE id = ANY($1::uuid[]) AND enabled AND failing_since IS NOT NULL
"""

_DISABLE = """
UPDATE gateway.webhook_endpoints
   SET enabled = false, disabled_reason = $2, disabled_at = $3, updated_at = $3
 WHERE id = $1 AND enabled
"""


async def _first_bytes(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The first 2 KB of an answer's body, and whether that was all of it."""
    raw = b""
    try:
        while len(raw) < EXCERPT_BYTES:
            chunk = await response.content.read(EXCERPT_BYTES - len(raw))
            if not chunk:
                return raw, True
            raw += chunk
    except aiohttp.ClientPayloadError as e:
        return raw + f"[answer cut: {type(e).__name__}]".encode(), False
    return raw, response.content.at_eof()


def clean_excerpt(raw: bytes) -> str:
    """At most 2 KB of a response, as text PostgreSQL can store (no NUL)."""
    return raw[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


@dataclass(frozen=True)
class Attempted:
    """One attempt made, and what it leaves the delivery as (written in batches)."""

    claimed: Claimed
    outcome: Outcome
    started: datetime
    finished: datetime
    duration_ms: int
    status: str  # delivered | pending | failed
    next_at: datetime | None


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
        self._clients: dict[uuid.UUID, tuple[aiohttp.ClientSession, float]] = {}
        self._in_flight: set[asyncio.Task] = set()
        # leased deliveries waiting for one of their endpoint's slots, and the slots taken
        self._queued: dict[uuid.UUID, deque[tuple[Claimed, list[str]]]] = {}
        self._sending: dict[uuid.UUID, int] = {}
        self._unsent: list[Claimed] = []  # leases to give back (not sent in time, or stopping)
        self._attempted: list[Attempted] = []  # outcomes not written yet
        self._send_wake = asyncio.Event()  # deliveries queued, or leases given back
        self._record_wake = asyncio.Event()  # outcomes to write

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> Dispatcher:
        db = self.settings.db
        self.pool = await asyncpg.create_pool(
            plain_url(self.settings.database_url or ""),
            min_size=0,  # none opened at start: a database away then is a round that backs off
            max_size=4,
            server_settings={
                "application_name": "eaglet-webhooks",
                "statement_timeout": str(db.statement_timeout_ms),
                "TimeZone": "UTC",
            },
            **connect_options(self.settings),
        )
        return self

    async def close(self) -> None:
        """Finish the attempts under way, write their outcomes, give back the leases of the
        deliveries still waiting (another dispatcher sends them at once, not after the lease)."""
        for queue in self._queued.values():
            self._unsent += [c for c, _ in queue]
        self._queued.clear()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=self.cfg.timeout_s + 1)
        if self.pool is not None:
            await self.record(self._take_attempted())
            await self._release(self._take_unsent())
        for session, _ in self._clients.values():
            await session.close()
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
        """One feed of one endpoint: the page after its cursor, then (if it holds anything) its
        deliveries and the cursor's move in one transaction. The page is read before the
        transaction, so this reader holds no transaction id while it reads (the feed serves only
        rows below every running transaction)."""
        endpoint_id, service, cursor = row["endpoint_id"], row["service"], row["cursor"]
        types = services_of(list(row["event_types"])).get(service)
        if not types:
            return 0, False
        try:
            page = await source.read_events(
                conn, service, owner_principal(row), cursor, types, self.cfg.batch
            )
        except Problem as e:  # the feed refuses the cursor: kept on the cursor, and logged
            why = e.detail or e.code
            log.warning("webhook %s: the %s feed refused its cursor: %s", endpoint_id, service, why)
            async with conn.transaction():
                await conn.execute(_FEED_REFUSED, endpoint_id, service, why[:500])
                if e.status == schedule.GONE:  # expired: the events after it are gone for good
                    await conn.execute(_DISABLE, endpoint_id, schedule.expired_reason(service), self.clock())
            return 0, False
        if page.next_cursor == cursor:
            return 0, False
        try:
            async with conn.transaction():
                if page.events:
                    await conn.execute(
                        _FAN_OUT,
                        endpoint_id,
                        [e.id for e in page.events],
                        [e.type for e in page.events],
                        [
                            json.dumps(e.as_json(), ensure_ascii=False, separators=(",", ":"))
                            for e in page.events
                        ],
                        self.clock(),
                    )
                moved = await conn.execute(_ADVANCE, endpoint_id, service, cursor, page.next_cursor)
                if moved.split()[-1] == "0":
                    raise _Lost()
        except _Lost:  # another dispatcher moved the cursor first (or it is gone): nothing written
            return 0, True
        return len(page.events), page.has_more  # more behind it: read on without waiting

    # -- sending ---------------------------------------------------------------------------
    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries (within every endpoint's share)."""
        if limit <= 0:
            return []
        lease = uuid.uuid4()
        now = self.clock()
        until = now + timedelta(seconds=self.cfg.lease_s)
        share = 2 * self.cfg.per_endpoint  # those being sent, and as many next in line
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(_CLAIM, now, share, limit, self.cfg.lease_s, lease)
        return [
            Claimed(
                r["id"], r["endpoint_id"], r["url"], r["event_id"], r["body"], r["attempts"], lease, until
            )
            for r in rows
        ]

    async def _release(self, unsent: list[Claimed]) -> None:
        if unsent:
            async with self._pool().acquire() as conn:
                await conn.execute(_RELEASE, [c.id for c in unsent], list({c.lease for c in unsent}))

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
        """Claim what is due now, send it and write the outcomes (a test's step)."""
        claimed = await self.claim(self.cfg.max_in_flight)
        if claimed:
            secrets = await self._secrets(sorted({c.endpoint_id for c in claimed}))
            slots = {e: asyncio.Semaphore(self.cfg.per_endpoint) for e in secrets}

            async def one(c: Claimed) -> Attempted:
                async with slots[c.endpoint_id]:
                    return await self.deliver(c, secrets[c.endpoint_id])

            await self.record(list(await asyncio.gather(*(one(c) for c in claimed))))
        return len(claimed)

    async def deliver(self, d: Claimed, secrets: list[str]) -> Attempted:
        """One attempt: check, sign, send; and what it leaves the delivery as."""
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
        finished = self.clock()
        if outcome.ok:
            status, next_at = "delivered", None
        else:
            wait = schedule.retry_after(outcome.retry_after, finished)
            next_at = schedule.next_attempt_at(d.attempts, finished, wait, self.rng)
            status = "pending" if next_at is not None else "failed"
        return Attempted(d, outcome, started, finished, duration_ms, status, next_at)

    async def _attempt(self, d: Claimed, secrets: list[str], started: datetime) -> Outcome:
        try:
            target, address = await ssrf.pinned(d.url, self.settings, self.resolver)
        except ssrf.UrlRefused as e:
            return Outcome(error=f"not sent: {e.message}")
        if not secrets:
            return Outcome(error="not sent: the endpoint has no signing secret that can be read")
        headers = signature_headers(d.event_id, started, d.body, secrets)
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = USER_AGENT
        # Connect to the address just checked; the receiver still sees its own name (Host, and
        # SNI with the certificate checked against it).
        v6 = target.literal is not None and target.literal.version == 6
        host = f"[{target.host}]" if v6 else target.host
        default_port = 443 if target.scheme == "https" else 80
        headers["Host"] = host if target.port == default_port else f"{host}:{target.port}"
        url = yarl.URL(d.url, encoded=False).with_host(str(address))
        named_tls = target.scheme == "https" and target.literal is None
        session = self._session(d.endpoint_id)
        try:
            async with session.post(
                url,
                data=d.body.encode(),
                headers=headers,
                allow_redirects=False,
                server_hostname=target.host if named_tls else None,
                ssl=self.verify if target.scheme == "https" else None,
            ) as response:
                raw, complete = await _first_bytes(response)
                if not complete:
                    response.close()  # the rest is not read: the connection is not reused
                status = response.status
                retry_after = response.headers.get("Retry-After")
                location = response.headers.get("Location", "")
        except aiohttp.ClientError as e:
            return Outcome(error=f"could not connect or send: {type(e).__name__}: {str(e)[:300]}")
        error = None
        if 300 <= status < 400:
            error = f"HTTP {status}: redirected to {location[:300]!r}; redirects are not followed"
        return Outcome(status, clean_excerpt(raw), error, retry_after)

    def _session(self, endpoint_id: uuid.UUID) -> aiohttp.ClientSession:
        """One connection pool per endpoint: its own connections (TLS for its host only), at most
        `per_endpoint` of them, no proxy or netrc from the environment, no cookies, no redirects."""
        now = time.monotonic()
        entry = self._clients.get(endpoint_id)
        if entry is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.cfg.per_endpoint, keepalive_timeout=KEEPALIVE_S, use_dns_cache=False
                ),
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=False,
            )
        else:
            session = entry[0]
        self._clients[endpoint_id] = (session, now)
        return session

    async def _close_idle_clients(self) -> None:
        now = time.monotonic()
        for endpoint_id, (session, used) in list(self._clients.items()):
            if now - used > IDLE_CLIENT_S:
                del self._clients[endpoint_id]
                await session.close()

    # -- outcomes --------------------------------------------------------------------------
    async def record(self, attempted: list[Attempted]) -> None:
        """Write outcomes, their attempt log and what they mean for their endpoints, in one
        transaction: failing periods, and disabling (a 410; failing for `disable_after_failing_h`)."""
        if not attempted:
            return
        async with self._pool().acquire() as conn, conn.transaction():
            written = await conn.fetch(
                _OUTCOMES,
                [a.claimed.id for a in attempted],
                [a.claimed.lease for a in attempted],
                [a.status for a in attempted],
                [a.next_at for a in attempted],
                [a.outcome.status_code for a in attempted],
                [a.duration_ms for a in attempted],
                [a.outcome.excerpt for a in attempted],
                [a.outcome.error for a in attempted],
                [a.finished for a in attempted],
                [a.claimed.attempts for a in attempted],
                [a.started for a in attempted],
            )
            kept = {r["delivery_id"] for r in written}
            if len(kept) < len(attempted):
                log.warning("%d webhook outcomes came after their lease ran out", len(attempted) - len(kept))
            mine = sorted((a for a in attempted if a.claimed.id in kept), key=lambda a: a.finished)
            periods: dict[uuid.UUID, tuple[bool, datetime | None]] = {}
            gone: dict[uuid.UUID, datetime] = {}
            last: dict[uuid.UUID, Outcome] = {}
            for a in mine:
                endpoint = a.claimed.endpoint_id
                succeeded, since = periods.get(endpoint, (False, None))
                if a.outcome.ok:
                    periods[endpoint] = (True, None)
                else:
                    periods[endpoint] = (succeeded, since or a.finished)
                    last[endpoint] = a.outcome
                    if a.outcome.status_code == schedule.GONE:
                        gone.setdefault(endpoint, a.finished)
            ids = list(periods)
            await conn.execute(_FAILING, ids, [periods[e][0] for e in ids], [periods[e][1] for e in ids])
            failed = [e for e in ids if periods[e][1] is not None]
            if not failed:
                return
            now = self.clock()
            limit = timedelta(hours=self.cfg.disable_after_failing_h)
            for row in await conn.fetch(_STILL_FAILING, failed):
                endpoint = row["id"]
                reason = None
                if endpoint in gone:
                    reason = schedule.gone_reason(gone[endpoint])
                elif now - row["failing_since"] >= limit:
                    reason = schedule.failing_reason(
                        row["failing_since"], self.cfg.disable_after_failing_h, last[endpoint].describe()
                    )
                if reason is not None:
                    await conn.execute(_DISABLE, endpoint, reason, now)
                    log.warning("webhook %s disabled: %s", endpoint, reason)

    def _take_attempted(self) -> list[Attempted]:
        taken, self._attempted = self._attempted, []
        return taken

    # -- the loop --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self._loop(stop, self._fan_out_round), name="webhooks fan-out"),
            asyncio.create_task(self._loop(stop, self._send_round, self._send_wake), name="webhooks send"),
            asyncio.create_task(
                self._loop(stop, self._record_round, self._record_wake), name="webhooks outcomes"
            ),
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
        """Wait for the poll interval, the stop, or (sending, writing) new work."""
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
        """Lease what is due (up to twice what this process may send at once) and start what
        the endpoints' free slots allow; the rest waits in line, its endpoint's next."""
        queued = sum(len(q) for q in self._queued.values())
        room = 2 * self.cfg.max_in_flight - queued - len(self._in_flight)
        claimed = await self.claim(room)
        if claimed:
            secrets = await self._secrets(sorted({c.endpoint_id for c in claimed}))
            for c in claimed:
                self._queued.setdefault(c.endpoint_id, deque()).append((c, secrets[c.endpoint_id]))
            self._dispatch()
        else:
            await self._close_idle_clients()
        if self._unsent:
            await self._release(self._take_unsent())
        return len(claimed) == room and room > 0  # a full share: there may be more due at once

    def _dispatch(self) -> None:
        """Start the waiting deliveries their endpoints have slots for. One whose lease would run
        out before its attempt could end is not sent: its lease is given back."""
        latest = self.clock() + timedelta(seconds=self.cfg.timeout_s)
        for endpoint_id in list(self._queued):
            queue = self._queued[endpoint_id]
            while (
                queue
                and self._sending.get(endpoint_id, 0) < self.cfg.per_endpoint
                and len(self._in_flight) < self.cfg.max_in_flight
            ):
                claimed, secrets = queue.popleft()
                if claimed.leased_until < latest:
                    self._unsent.append(claimed)
                    continue
                self._sending[endpoint_id] = self._sending.get(endpoint_id, 0) + 1
                task = asyncio.create_task(self.deliver(claimed, secrets))
                self._in_flight.add(task)
                task.add_done_callback(lambda t, e=endpoint_id: self._sent(t, e))
            if not queue:
                del self._queued[endpoint_id]

    def _sent(self, task: asyncio.Task, endpoint_id: uuid.UUID) -> None:
        self._in_flight.discard(task)
        left = self._sending.get(endpoint_id, 1) - 1
        if left:
            self._sending[endpoint_id] = left
        else:
            self._sending.pop(endpoint_id, None)
        if not task.cancelled() and task.exception() is None:
            self._attempted.append(task.result())
            self._record_wake.set()
        self._dispatch()  # the endpoint's next in line takes the slot at once (no round trip)

    def _take_unsent(self) -> list[Claimed]:
        taken, self._unsent = self._unsent, []
        return taken

    async def _record_round(self) -> bool:
        """Write the outcomes gathered since the last round (one transaction for all of them);
        their leases end then, so their endpoints' slots are free for the next claim."""
        attempted = self._take_attempted()
        if attempted:
            try:
                await self.record(attempted)
            except BaseException:
                self._attempted[:0] = attempted  # written on the next round (or their leases run out)
                raise
            self._send_wake.set()
        return False


class _Lost(Exception):
    """Another dispatcher moved a cursor first: this fan-out's transaction is rolled back."""


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """The worker's loop: dispatch webhooks until `stop` is set."""
    async with Dispatcher(settings) as dispatcher:
        await dispatcher.run(stop)


def main() -> None:  # pragma: no cover - a process entry point, exercised by tests as a subprocess
    from services.common.logging import configure_logging
    from services.common.process import run_until_signalled

    settings = get_settings().for_process("worker")  # the worker's loop, run alone: the worker's role
    configure_logging("webhooks", settings.log_level)

    run_until_signalled(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
