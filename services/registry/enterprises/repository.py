"""All SQL on enterprises; every read goes through `scoped()` (region prefix for officials)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import raw_connection
from services.common.scope import RegionScope
from services.registry.enterprises import listing
from services.registry.enterprises.models import Enterprise

E = Enterprise.__table__
FIELDS = (
    "name",
    "region_code",
    "industry_code",
    "established_on",
    "registered_capital",
    "address",
    "legal_representative",
)


def scoped(stmt: Select, principal: Principal) -> Select:
    scope = RegionScope.of(principal)
    return stmt.where(scope.clause(Enterprise.region_code)) if scope.restricted else stmt


async def get(session: AsyncSession, principal: Principal, code: str) -> Any | None:
    """The detail record inside the request's unit of work (it sees the request's own writes);
    the same statement as the read path's (`listing.one_statement`)."""
    conn = await raw_connection(session)
    text_, args = listing.one_statement(principal, code)
    return await conn.fetchrow(text_, *args)


async def exists_visible(session: AsyncSession, principal: Principal, code: str) -> bool:
    stmt = scoped(select(literal(1)).select_from(E).where(Enterprise.credit_code == code), principal)
    return (await session.execute(stmt)).first() is not None


async def lock_visible(session: AsyncSession, principal: Principal, code: str) -> Enterprise | None:
    stmt = scoped(select(Enterprise).where(Enterprise.credit_code == code), principal).with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def exists_any(session: AsyncSession, code: str) -> bool:
    return (
        await session.execute(select(literal(1)).where(Enterprise.credit_code == code))
    ).first() is not None


async def insert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert; False when the credit code exists already."""
    stmt = pg_insert(E).values(**values).on_conflict_do_nothing(index_elements=["credit_code"])
    result = await session.execute(stmt.returning(E.c.credit_code))
    return result.first() is not None


async def update_fields(session: AsyncSession, code: str, values: dict[str, Any]) -> None:
    await session.execute(update(E).where(E.c.credit_code == code).values(**values, updated_at=func.now()))


# The batch write, never read-then-decide-then-write: the insert decides `created` (the primary
# key), the rows already registered are locked before they are compared, and the update decides
# `updated` within the caller's region. Concurrent batches posting the same credit codes see one
# `created` per code, and a record never moves out of the region it is registered in. Rows go in
# credit-code order so that concurrent batches wait for each other instead of deadlocking.
_BATCH_TYPES = {
    "credit_code": "text",
    "name": "text",
    "region_code": "text",
    "industry_code": "text",
    "established_on": "date",
    "registered_capital": "numeric",
    "address": "text",
    "legal_representative": "text",
}
_BATCH_COLUMNS = ", ".join(_BATCH_TYPES)
_UNNEST = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_BATCH_TYPES.values(), start=1))
_N = len(_BATCH_TYPES)

_INSERT_NEW = f"""
INSERT INTO registry.enterprises AS t ({_BATCH_COLUMNS}, rule_set_version)
SELECT i.*, ${_N + 1} FROM unnest({_UNNEST}) AS i({_BATCH_COLUMNS})
ORDER BY i.credit_code
ON CONFLICT (credit_code) DO NOTHING
RETURNING t.credit_code
"""

_LOCK = f"""
SELECT credit_code, {", ".join(FIELDS)} FROM registry.enterprises
WHERE credit_code = ANY($1::text[]) ORDER BY credit_code FOR UPDATE
"""


def _update_changed(scope: str) -> str:
    fields = ", ".join(f"t.{f}" for f in FIELDS)
    new = ", ".join(f"i.{f}" for f in FIELDS)
    return f"""
    UPDATE registry.enterprises AS t
       SET {", ".join(f"{f} = i.{f}" for f in FIELDS)}, rule_set_version = ${_N + 1}, updated_at = now()
      FROM unnest({_UNNEST}) AS i({_BATCH_COLUMNS})
     WHERE t.credit_code = i.credit_code{scope} AND ({fields}) IS DISTINCT FROM ({new})
    RETURNING t.credit_code
    """


def _columns(rows: list[dict[str, Any]]) -> list[list[Any]]:
    rows = sorted(rows, key=lambda r: r["credit_code"])
    return [[r.get(c) for r in rows] for c in _BATCH_TYPES]


async def insert_new(session: AsyncSession, rows: list[dict[str, Any]], rule_set_version: str) -> set[str]:
    """Insert the rows whose credit code is not registered; return the codes this statement
    created. The primary key decides: of concurrent inserts of one code exactly one creates it,
    the others wait for it to commit and skip it."""
    if not rows:
        return set()
    conn = await raw_connection(session)
    return {r[0] for r in await conn.fetch(_INSERT_NEW, *_columns(rows), rule_set_version)}


async def lock_many(session: AsyncSession, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The registered facts of these enterprises as last committed, locked until the unit of work
    ends (a concurrent batch waits here, then sees this one's result)."""
    if not codes:
        return {}
    conn = await raw_connection(session)
    rows = await conn.fetch(_LOCK, sorted(codes))
    return {r["credit_code"]: dict(r) for r in rows}


async def update_changed(
    session: AsyncSession, principal: Principal, rows: list[dict[str, Any]], rule_set_version: str
) -> set[str]:
    """Update the rows that differ from the stored record and lie in the caller's region; return
    the codes updated. A record registered outside the caller's region is never touched."""
    if not rows:
        return set()
    region = RegionScope.of(principal)
    args: list[Any] = [*_columns(rows), rule_set_version]

    def bind(value: str) -> str:
        args.append(value)
        return f"${len(args)}"

    scope = f" AND {region.where('t.region_code', bind)}" if region.restricted else ""
    conn = await raw_connection(session)
    return {r[0] for r in await conn.fetch(_update_changed(scope), *args)}
