from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.scale.models import ScaleStatus


async def history(session: AsyncSession, code: str) -> list[ScaleStatus]:
    stmt = (
        select(ScaleStatus)
        .where(ScaleStatus.credit_code == code)
        .order_by(ScaleStatus.effective_year, ScaleStatus.id)
    )
    return list((await session.execute(stmt)).scalars().all())


async def add(session: AsyncSession, fact: ScaleStatus) -> ScaleStatus:
    session.add(fact)
    await session.flush()
    await session.refresh(fact)
    return fact
