"""Public verification SQL: one indexed probe on certificate_no, only the public columns."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = (
    "certificate_no, certifier, holder_name, holder_credit_code, product, standard_code, "
    "issued_on, expires_on, status, status_effective_on"
)
ONE = f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = $1 ORDER BY certifier LIMIT 20"
ONE_AT = f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = $1 AND certifier = $2"
MANY = (
    f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = ANY($1::text[]) "
    "ORDER BY certificate_no, certifier"
)


_pools: dict[int, asyncpg.Pool] = {}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset query on release (asyncpg's default costs a round trip per request): these
    connections only ever run the read-only statements below, which change no session state
    (no SET, LISTEN, cursors or advisory locks). An open transaction is still rolled back."""


_lock = asyncio.Lock()


async def _pool(engine: AsyncEngine) -> asyncpg.Pool:
    """A small asyncpg pool beside the engine for this hot, read-only path: no ORM, no pre-ping
    or reset round trip, each statement prepared once per connection (asyncpg's statement cache),
    so a verification is one Bind/Execute round trip. Closed with the engine's pool."""
    pool = _pools.get(id(engine))
    if pool is None:
        async with _lock:
            pool = _pools.get(id(engine))
            if pool is None:
                url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                pool = await asyncpg.create_pool(
                    url,
                    min_size=1,
                    max_size=10,
                    reset=_keep_session,
                    server_settings={"application_name": "eaglet-standards-public", "TimeZone": "UTC"},
                )
                _pools[id(engine)] = pool
    return pool


async def close_pool(engine: AsyncEngine) -> None:
    pool = _pools.pop(id(engine), None)
    if pool is not None:
        await pool.close()


async def _fetch(engine: AsyncEngine, sql: str, *args: Any) -> list[Any]:
    # Read-only, outside any unit of work: one pooled connection, one statement.
    pool = await _pool(engine)
    async with pool.acquire() as conn:
        return await conn.fetch(sql, *args)


async def by_number(engine: AsyncEngine, certificate_no: str, certifier: str | None) -> list[Any]:
    if certifier:
        return await _fetch(engine, ONE_AT, certificate_no, certifier)
    return await _fetch(engine, ONE, certificate_no)


async def by_numbers(engine: AsyncEngine, numbers: list[str]) -> list[Any]:
    return await _fetch(engine, MANY, numbers)
