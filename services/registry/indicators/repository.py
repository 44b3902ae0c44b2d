from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset, page_of
from services.registry.indicators.models import Indicators

T = Indicators.__table__


async def get(session: AsyncSession, code: str, year: int) -> Indicators | None:
    return await session.get(Indicators, (code, year))


async def upsert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert or replace a year; True when it was created."""
    stmt = pg_insert(T).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["credit_code", "year"],
        set_={k: stmt.excluded[k] for k in values if k not in ("credit_code", "year")},
    ).returning(literal_column("(xmax = 0)"))
    return bool((await session.execute(stmt)).scalar_one())


async def list_years(session: AsyncSession, code: str, params: PageParams):
    stmt = keyset(select(Indicators).where(Indicators.credit_code == code), [Indicators.year], params)
    rows = list((await session.execute(stmt)).scalars().all())
    return page_of(rows, params, lambda r: (r.year,))
