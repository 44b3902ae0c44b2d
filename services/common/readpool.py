"""Two small asyncpg pools beside each app's engine: the hot read pool and the export pool.

Why: a read through the ORM session costs far more Python per request than the query itself costs
PostgreSQL (session set-up, statement building, cache keys, row mappings). These paths send one
parameterised SQL text straight to asyncpg: each text is prepared once per connection (asyncpg's
statement cache), so a read is one Bind/Execute round trip; no pre-ping and no reset round trip.

The pools of an app are one `ReadPools` (`pools_of(app)`); a request reaches them as a `Reader`:
the read pool as one caller sees it, handed to routes by the dependencies `CallerReads` (the
verified principal's share) and `Reads` (no caller's share), and to fast routes by `reader` with the
same arguments. Repositories receive the reader, never the app. A reader takes a connection per
statement (`fetch`) or per block (`connection`) and gives it back at once, so a route running
statements side by side (the financing statistics) holds one connection per statement, and none
while it serialises its answer.

Connections are handed out in arrival order: asyncpg's pool hands a released connection to
whoever asks next, so under load a waiting request could be overtaken again and again. A FIFO
semaphore sized like the pool queues them fairly in front of it.

One tenant cannot take the read pool from the others:
- A caller (`caller_key`: one bank, guarantor or certifier — all its API clients together — or one
  official) holds at most `read_pool_per_caller` read connections at once. The share is taken
  *before* the FIFO turn, so a caller's own backlog (a burst of stop-word searches) waits
  behind itself, and everybody else's statements queue only behind what callers are running.
- Every statement on the read pool runs under `read_statement_timeout_ms` (PostgreSQL's
  statement_timeout on these connections): one running longer is cancelled and answered as the
  422 problem `query_too_broad` (`QueryTimeout`) — never a 500, never a connection held for 30 s.
  Not a 503: the gateway counts 503s against the service's circuit breaker and retries them, so
  one caller's over-broad searches would trip the registry for everyone.

Refusals for capacity are 429s for the same reason: a caller beyond its share of exports, or every
export connection busy.

Exports never use the read pool: `Reader.export` leases a connection of the export pool
(`export.connections` per process; a download waits at most `export.wait_s` for one, then 429
`exports_busy`), at most `export.per_caller` per caller (one more: 429 `too_many_exports`). A
stalled download therefore holds an export connection, and only until its send timeout
(`services/common/streaming.py`).

Only read-only statements run on the read pool (no SET, LISTEN, advisory locks or open cursors
outside a transaction), so a connection needs no reset on release; asyncpg still rolls back a
transaction left open. Export connections are reset as asyncpg does by default (their cursors
live in transactions that a dropped download may leave behind). Both pools are created on first
use and closed with the app (`close_read_pool` in the app's lifespan).

With a replica (`db.read_url`, docs/deploy.md "Read replicas") the read pool and the export pool
connect to it: lists, searches, public verification, statistics, exports and the change feed read
a copy that may lag the primary by the replica's replay delay. A route whose answer must show the
caller's own writes (the detail a client fetches right after changing it) takes a primary reader
(`primary=True`: `CallerPrimaryReads`): the same statements, shares and turns, on a second pool
of the same size connected to the database URL, created only when a replica is configured (without
one, both readers share the one pool). The FIFO turns are shared by both pools: the process holds
at most `read_pool_size` read connections busy at once, whichever server they are on.

The database going away (a restart, a failover): a pool replaces a connection found closed when
it is next handed out (asyncpg reconnects a pool slot whose connection is closed), and a `fetch`
whose connection dies under its statement runs it once more on a fresh connection — reads are
idempotent. A connection that cannot be opened (within `db.connect_timeout_s`), a second loss, or a
loss inside a `connection()` block is the 503 problem `database_unavailable` with Retry-After
(`DatabaseGone`: answered by the fast routes too).

Point lookups that many requests make at once share one statement through a `Coalescer` kept with
the pools (`ReadPools.coalescer`): one per process and lookup, like the pools themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from services.common.auth import CurrentPrincipal, Principal
from services.common.coalesce import Coalescer
from services.common.db import connect_options, plain_url
from services.common.errors import (
    DatabaseUnavailable,
    ExportsBusy,
    Problem,
    QueryTooBroad,
    TooManyExports,
    connection_error,
    unavailable_problem,
)
from services.common.settings import Settings

RETRY_AFTER_S = 5


def caller_key(principal: Principal) -> str:
    """Whose share a statement counts against: an institution's org code (its API clients share
    it), else the subject (an official, an admin)."""
    return f"{principal.kind}:{principal.org or principal.sub}"


class Shares:
    """At most `limit` holders per caller at once; a caller's further takers wait in order.
    Callers with nobody holding or waiting are forgotten."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._callers: dict[str, list] = {}  # caller → [semaphore, holders + waiters]

    def _enter(self, caller: str) -> list:
        entry = self._callers.get(caller)
        if entry is None:
            entry = self._callers[caller] = [asyncio.Semaphore(self.limit), 0]
        entry[1] += 1
        return entry

    def _leave(self, caller: str, entry: list) -> None:
        entry[1] -= 1
        if entry[1] == 0:
            del self._callers[caller]

    async def acquire(self, caller: str) -> None:
        entry = self._enter(caller)
        try:
            await entry[0].acquire()
        except BaseException:
            self._leave(caller, entry)
            raise

    async def try_acquire(self, caller: str) -> bool:
        """Take a share if one is free now (without waiting); False if the caller holds them all."""
        entry = self._callers.get(caller)
        if entry is not None and entry[0].locked():
            return False
        await self.acquire(caller)  # a free share: taken without suspending
        return True

    def release(self, caller: str) -> None:
        entry = self._callers[caller]
        entry[0].release()
        self._leave(caller, entry)


class QueryTimeout(Problem):
    """A read-pool statement ran past the read timeout and PostgreSQL cancelled it: the named
    problem `QueryTooBroad`."""

    named = QueryTooBroad
    # The fast routes answer it themselves: the FastAPI route would only run the statement again.
    final = True

    def __init__(self, timeout_ms: int) -> None:
        p = QueryTooBroad(timeout_ms=timeout_ms, headers={"Retry-After": str(RETRY_AFTER_S)})
        super().__init__(p.status, p.code, p.detail, title=p.title, headers=p.headers)


class DatabaseGone(Problem):
    """The database went away under a read-pool statement (errors.connection_error): the named
    problem `DatabaseUnavailable`, with Retry-After."""

    named = DatabaseUnavailable
    final = True  # the fast routes answer it: the FastAPI route would only meet the same outage

    def __init__(self, retry_after_s: int) -> None:
        p = unavailable_problem(retry_after_s)
        super().__init__(p.status, p.code, p.detail, title=p.title, headers=p.headers)


# What a read-pool statement or connect raises when the database is away (narrowed by
# errors.connection_error: another InterfaceError or OSError is not an outage).
_LOST = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing to reset: see the module docstring."""


class ReadPools:
    """One app's read pool and export pool (each created on first use) and its coalesced lookups."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self._lock = asyncio.Lock()
        self._read: asyncpg.Pool | None = None
        self._primary: asyncpg.Pool | None = None
        self._export: asyncpg.Pool | None = None
        db = settings.db
        self._turns = asyncio.Semaphore(db.read_pool_size)
        self._shares = Shares(db.read_pool_per_caller)
        self._export_turns = asyncio.Semaphore(settings.export.connections)
        self._export_shares = Shares(settings.export.per_caller)
        self._coalescers: dict[str, Coalescer] = {}

    @property
    def replica(self) -> bool:
        """Whether the hot reads go to a replica (`db.read_url` set and not the database URL)."""
        url = self.settings.db.read_url
        return bool(url) and url != self.settings.database_url

    def _url(self, primary: bool) -> str:
        return self.settings.database_url if primary or not self.replica else self.settings.db.read_url

    async def _create(
        self, name: str, size: int, timeout_ms: int, *, primary: bool = False, **kwargs: Any
    ) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            plain_url(self._url(primary)),
            min_size=1,
            max_size=size,
            server_settings={
                "application_name": f"eaglet-{self.service}-{name}",
                "statement_timeout": str(timeout_ms),
                "TimeZone": "UTC",
            },
            **connect_options(self.settings),
            **kwargs,
        )

    async def read_pool(self, primary: bool = False) -> asyncpg.Pool:
        """The read pool (on the replica when there is one), or with `primary` the one on the
        database URL (the same pool when there is no replica)."""
        attr = "_primary" if primary and self.replica else "_read"
        pool = getattr(self, attr)
        if pool is None:
            async with self._lock:
                pool = getattr(self, attr)
                if pool is None:
                    db = self.settings.db
                    pool = await self._create(
                        "read-primary" if attr == "_primary" else "read",
                        db.read_pool_size,
                        db.read_statement_timeout_ms,
                        primary=attr == "_primary",
                        reset=_no_reset,
                    )
                    setattr(self, attr, pool)
        return pool

    def _timed_out(self) -> QueryTimeout:
        return QueryTimeout(self.settings.db.read_statement_timeout_ms)

    def _gone(self) -> DatabaseGone:
        return DatabaseGone(self.settings.db.retry_after_s)

    @asynccontextmanager
    async def connection(
        self, caller: str | None = None, *, primary: bool = False
    ) -> AsyncIterator[asyncpg.Connection]:
        """A read-pool connection, within the caller's share, handed out in the order requests
        asked for one. Without a caller (public lookups, the kit's own use) only the FIFO turn
        applies. `primary`: on the database URL even when a replica serves the reads."""
        pool = await self._pool_or_gone(primary)
        shares = self._shares
        if caller is not None:
            await shares.acquire(caller)
        try:
            async with self._turns:
                try:
                    async with pool.acquire() as conn:
                        try:
                            yield conn
                        except asyncpg.QueryCanceledError:
                            raise self._timed_out() from None
                except _LOST as e:
                    if connection_error(e):  # a block is not run twice: the caller may retry it
                        raise self._gone() from e
                    raise
        finally:
            if caller is not None:
                shares.release(caller)

    async def _pool_or_gone(self, primary: bool) -> asyncpg.Pool:
        """`read_pool`, or `DatabaseGone` when creating it cannot connect."""
        try:
            return await self.read_pool(primary)
        except _LOST as e:
            if connection_error(e):
                raise self._gone() from e
            raise

    async def fetch(
        self, sql: str, *args: Any, caller: str | None = None, primary: bool = False
    ) -> list[asyncpg.Record]:
        """One statement on a read-pool connection taken in turn (as `connection`, without the
        cost of a generator-based context manager on every hot read)."""
        pool = self._primary if primary else self._read
        if pool is None:
            pool = await self._pool_or_gone(primary)
        shares = self._shares
        if caller is not None:
            await shares.acquire(caller)
        try:
            async with self._turns:
                try:
                    conn = await pool.acquire()
                    try:
                        return await conn.fetch(sql, *args)
                    except asyncpg.QueryCanceledError:
                        raise self._timed_out() from None
                    except _LOST as e:
                        if not connection_error(e):
                            raise
                    finally:
                        await pool.release(conn)  # a closed connection: its slot reconnects
                    # The connection died under the statement (a restart, a failover): a read is
                    # idempotent, so once more on a fresh connection.
                    conn = await pool.acquire()
                    try:
                        return await conn.fetch(sql, *args)
                    except asyncpg.QueryCanceledError:
                        raise self._timed_out() from None
                    finally:
                        await pool.release(conn)
                except _LOST as e:
                    if connection_error(e):
                        raise self._gone() from e
                    raise
        finally:
            if caller is not None:
                shares.release(caller)

    def coalescer(self, name: str, load_many: Callable[[list], Awaitable[Any]], missing: Any) -> Coalescer:
        """The process's one `Coalescer` for the lookup `name` (created with `load_many` on first use)."""
        found = self._coalescers.get(name)
        if found is None:
            found = self._coalescers[name] = Coalescer(load_many, missing)
        return found

    # ---- exports ---------------------------------------------------------------------------------

    async def export_pool(self) -> asyncpg.Pool:
        pool = self._export
        if pool is None:
            async with self._lock:
                pool = self._export
                if pool is None:
                    size = self.settings.export.connections
                    pool = self._export = await self._create(
                        "export", size, self.settings.db.statement_timeout_ms
                    )
        return pool

    async def export_connection(self, caller: str) -> ExportLease:
        """An export connection for `caller`, or the problem saying why not (429: the caller runs
        as many exports as they may, or every export connection stayed busy for `export.wait_s`)."""
        pool = await self.export_pool()
        settings = self.settings.export
        shares = self._export_shares
        if not await shares.try_acquire(caller):
            raise TooManyExports(running=settings.per_caller, headers={"Retry-After": str(RETRY_AFTER_S)})
        try:
            try:
                async with asyncio.timeout(settings.wait_s):
                    await self._export_turns.acquire()
            except TimeoutError:
                raise ExportsBusy(
                    wait_s=settings.wait_s, headers={"Retry-After": str(RETRY_AFTER_S)}
                ) from None
            try:
                conn = await pool.acquire()
            except BaseException:
                self._export_turns.release()
                raise
        except BaseException:
            shares.release(caller)
            raise
        return ExportLease(self, caller, conn)

    async def _give_back(self, caller: str, conn: asyncpg.Connection) -> None:
        try:
            await self._export.release(conn)
        finally:
            self._export_turns.release()
            self._export_shares.release(caller)

    async def close(self) -> None:
        """Close whichever pools were created."""
        for name in ("_read", "_primary", "_export"):
            pool = getattr(self, name)
            if pool is not None:
                setattr(self, name, None)
                await pool.close()


@dataclass
class ExportLease:
    """An export connection held for one download; `release` (once) gives everything back."""

    pools: ReadPools
    caller: str
    conn: asyncpg.Connection | None

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if conn.is_in_transaction():
            # A download that ended early (client gone or stalled) leaves its cursor's
            # transaction open when it was cancelled mid-fetch: end it here, out of the
            # cancelled stream (asyncpg's reset would too, but logs it as an error).
            try:
                await conn.execute("ROLLBACK")
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                pass  # the pool's reset ends it, or closes the connection
        await self.pools._give_back(self.caller, conn)


@dataclass(frozen=True, slots=True)
class Reader:
    """The read pool as one caller sees it: what a repository receives for its reads. `caller`
    None: public reads (only the FIFO turn applies). `primary`: reads that must see the caller's
    own writes, on the database URL even when a replica serves the others."""

    pools: ReadPools
    caller: str | None
    primary: bool = False

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pools.fetch(sql, *args, caller=self.caller, primary=self.primary)

    def connection(self) -> Any:
        """`async with reader.connection() as conn`: one read-pool connection for a block."""
        return self.pools.connection(self.caller, primary=self.primary)

    async def export(self) -> ExportLease:
        """An export connection within the caller's share of exports (a public reader has none)."""
        if self.caller is None:
            raise RuntimeError("exports are per caller")
        return await self.pools.export_connection(self.caller)


def pools_of(app: Any) -> ReadPools:
    """The app's pools (created, without connecting, on first use)."""
    pools = getattr(app.state, "read_pools", None)
    if pools is None:
        pools = app.state.read_pools = ReadPools(app.state.settings, app.state.service)
    return pools


def reader(app: Any, principal: Principal | None, *, primary: bool = False) -> Reader:
    """The reader of a request: within `principal`'s share, or public (None); `primary` for the
    reads that must see the caller's own writes. The dependencies below and the fast routes build
    it here."""
    return Reader(pools_of(app), None if principal is None else caller_key(principal), primary)


async def uncounted_reads(request: Request) -> Reader:
    return reader(request.app, None)


async def caller_reads(request: Request, principal: CurrentPrincipal) -> Reader:
    return reader(request.app, principal)


async def caller_primary_reads(request: Request, principal: CurrentPrincipal) -> Reader:
    return reader(request.app, principal, primary=True)


# A route's reads: `reads: CallerReads` (within the verified caller's share) or `reads: Reads`
# (only the FIFO turn: public lookups, and the statistics, whose statements run side by side).
Reads = Annotated[Reader, Depends(uncounted_reads)]
CallerReads = Annotated[Reader, Depends(caller_reads)]
# Read-your-own-write: a detail the caller fetches right after changing it, a file the job worker
# has just written. On the primary whatever `db.read_url` says.
CallerPrimaryReads = Annotated[Reader, Depends(caller_primary_reads)]


async def close_read_pool(app: Any) -> None:
    """Close the app's read pool and export pool (whichever were created)."""
    pools = getattr(app.state, "read_pools", None)
    if pools is not None:
        app.state.read_pools = None  # a later use starts afresh (new pools, new queues)
        await pools.close()
