from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.titles.models import Title


async def list_for(session: AsyncSession, code: str) -> list[Title]:
    stmt = select(Title).where(Title.credit_code == code).order_by(Title.valid_from, Title.id)
    return list((await session.execute(stmt)).scalars().all())


async def get_for_update(session: AsyncSession, code: str, title_id: int) -> Title | None:
    stmt = select(Title).where(Title.credit_code == code, Title.id == title_id).with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, title: Title) -> Title:
    session.add(title)
    await session.flush()
    await session.refresh(title)
    return title
