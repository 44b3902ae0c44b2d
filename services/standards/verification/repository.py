"""Public verification SQL: one indexed probe on certificate_no, only the public columns."""

from __future__ import annotations

from typing import Any

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


async def _fetch(engine: AsyncEngine, sql: str, *args: Any) -> list[Any]:
    # Read-only, outside any unit of work: one pooled connection, one statement.
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        return await raw.driver_connection.fetch(sql, *args)


async def by_number(engine: AsyncEngine, certificate_no: str, certifier: str | None) -> list[Any]:
    if certifier:
        return await _fetch(engine, ONE_AT, certificate_no, certifier)
    return await _fetch(engine, ONE, certificate_no)


async def by_numbers(engine: AsyncEngine, numbers: list[str]) -> list[Any]:
    return await _fetch(engine, MANY, numbers)
