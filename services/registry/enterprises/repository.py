"""All SQL on enterprises; every read goes through `scoped()` (region prefix for officials)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import raw_connection
from services.registry.enterprises import listing
from services.registry.enterprises.models import Enterprise
from services.registry.scope import region_like

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
    like = region_like(principal)
    return stmt if like is None else stmt.where(Enterprise.region_code.like(like))


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


async def fetch_many(session: AsyncSession, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not codes:
        return {}
    rows = await session.execute(
        select(E.c.credit_code, *[E.c[f] for f in FIELDS]).where(E.c.credit_code == func.any(list(codes)))
    )
    return {r.credit_code: dict(r._mapping) for r in rows}


async def upsert_many(session: AsyncSession, rows: list[dict[str, Any]], rule_set_version: str) -> None:
    """One multi-row INSERT … ON CONFLICT DO UPDATE (set-based)."""
    if not rows:
        return
    values = [{**r, "rule_set_version": rule_set_version} for r in rows]
    stmt = pg_insert(E).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["credit_code"],
        set_={
            **{f: stmt.excluded[f] for f in FIELDS},
            "rule_set_version": stmt.excluded.rule_set_version,
            "updated_at": func.now(),
        },
    )
    await session.execute(stmt)
