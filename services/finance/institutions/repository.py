"""Institution SQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset
from services.finance.institutions.models import Institution


async def create(session: AsyncSession, values: dict) -> Institution | None:
    """Insert; None when the code exists already."""
    stmt = (
        insert(Institution)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(Institution)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, code: str) -> Institution | None:
    return (await session.execute(select(Institution).where(Institution.code == code))).scalar_one_or_none()


async def list_institutions(session: AsyncSession, params: PageParams, kind: str | None) -> list[Institution]:
    stmt = select(Institution)
    if kind:
        stmt = stmt.where(Institution.kind == kind)
    return list((await session.execute(keyset(stmt, [Institution.code], params))).scalars())
