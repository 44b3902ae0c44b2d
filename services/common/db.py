"""Async engine, session factory and the per-request unit of work."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from services.common.settings import Settings


def async_url(url: str) -> str:
    """`postgresql://…` (what psql and asyncpg take) → the SQLAlchemy asyncpg URL."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def plain_url(url: str) -> str:
    """The libpq/asyncpg form of a database URL (no SQLAlchemy driver suffix)."""
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


# The oldest PostgreSQL eaglet runs on: finance batches take each update's replaced row from
# `RETURNING old.*` (new in PostgreSQL 18). Migrations refuse an older server before touching it.
MIN_SERVER_VERSION = 18


def require_server_version(version: tuple[int, ...]) -> None:
    """Exit with a clear message when the server (`server_version_info`) is older than required."""
    if version[0] < MIN_SERVER_VERSION:
        shown = ".".join(str(v) for v in version)
        raise SystemExit(
            f"eaglet needs PostgreSQL {MIN_SERVER_VERSION} or newer; the server at the database URL is "
            f"PostgreSQL {shown}. Upgrade it, or leave the URL unset to use the embedded PostgreSQL "
            f"{MIN_SERVER_VERSION}."
        )


def statement_cache(settings: Settings) -> dict[str, int]:
    """asyncpg's connection options for its prepared statement cache (EAGLET_DB__STATEMENT_CACHE_SIZE):
    for every asyncpg connection and pool the process opens."""
    return {"statement_cache_size": settings.db.statement_cache_size}


def connect_options(settings: Settings) -> dict[str, float | int]:
    """asyncpg's options for every pool of raw connections the process opens: the statement cache
    and the connect timeout (EAGLET_DB__CONNECT_TIMEOUT_S: a database that is away fails the
    connect after it, instead of asyncpg's 60 s)."""
    return {**statement_cache(settings), "timeout": settings.db.connect_timeout_s}


def create_engine(settings: Settings, application_name: str) -> AsyncEngine:
    if not settings.database_url:
        raise RuntimeError("no database configured: set EAGLET_DATABASE_URL (or run `eaglet up`)")
    db = settings.db
    # Pre-ping (EAGLET_DB__PRE_PING, on by default): a checkout pings its connection and replaces
    # it if the database dropped it (restart, failover), at the cost of one short round trip.
    # Without it a dead connection fails its request once (503 database_unavailable), and the
    # engine then invalidates every connection older than the failure. Stale connections are
    # recycled by age either way.
    kwargs: dict = {"pool_pre_ping": db.pre_ping, "pool_recycle": db.recycle_s}
    if db.pool == "null":
        kwargs["poolclass"] = NullPool
    else:
        kwargs.update(pool_size=db.pool_size, max_overflow=db.max_overflow, pool_timeout=db.pool_timeout_s)
    return create_async_engine(
        async_url(settings.database_url),
        connect_args={
            **statement_cache(settings),
            "timeout": db.connect_timeout_s,  # asyncpg's connect timeout (its default: 60 s)
            # SQLAlchemy's own LRU of asyncpg prepared statements, sized alike (0: none kept)
            "prepared_statement_cache_size": db.statement_cache_size,
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(db.statement_timeout_ms),
                "TimeZone": "UTC",
            },
        },
        **kwargs,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: responses are serialised after the unit of work ends.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def bind_database(app, engine: AsyncEngine) -> None:
    """Give an app its engine and the session factories `unit_of_work` uses."""
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.read_sessionmaker = create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


READ_METHODS = frozenset({"GET", "HEAD"})


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back if it raises.

    Used with ``scope="function"`` so the commit happens *before* the response is sent: a client
    never sees a success whose commit later failed. Reads (GET/HEAD) run in autocommit mode: no
    BEGIN/COMMIT round trips for requests that write nothing.
    """
    maker = (
        request.app.state.read_sessionmaker
        if request.method in READ_METHODS
        else request.app.state.sessionmaker
    )
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection behind the session, inside the request's transaction, for
    set-based SQL with array parameters and COPY.

    SQLAlchemy's asyncpg adapter issues BEGIN lazily, on its first statement: run one so that
    everything done on the raw connection belongs to the unit of work (commit or roll back together).
    """
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    if conn.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return raw  # a read (GET): the kit runs reads without a transaction
    if not raw.is_in_transaction():
        await session.execute(text("SELECT 1"))
    if not raw.is_in_transaction():  # pragma: no cover - a driver change would break atomicity
        raise RuntimeError("the unit of work has no open transaction")
    return raw


@asynccontextmanager
async def local_settings(conn: asyncpg.Connection, settings: dict[str, str]) -> AsyncIterator[None]:
    """Server settings for the block, inside the connection's transaction (`set_config(…, true)`),
    then back to what they were. When the block raises, the restore is tried and its own failure
    ignored: an aborted transaction rolls the settings back with everything else, and the block's
    error is the one to see."""
    names = list(settings)
    previous = await conn.fetchrow(
        "SELECT array_agg(current_setting(n) ORDER BY i) FROM unnest($1::text[]) WITH ORDINALITY AS s(n, i)",
        names,
    )
    restore = dict(zip(names, previous[0], strict=True))
    await _set_local(conn, settings)
    try:
        yield
    except BaseException:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
            await _set_local(conn, restore)
        raise
    await _set_local(conn, restore)


async def _set_local(conn: asyncpg.Connection, settings: dict[str, str]) -> None:
    await conn.execute(
        "SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)",
        list(settings),
        list(settings.values()),
    )
