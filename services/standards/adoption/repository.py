"""Adoption SQL. Region scoping of the enterprise is checked through the catalogue repository's
directory lookup before any read or write here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.standards.adoption.models import AdoptionReport


async def get(
    session: AsyncSession, credit_code: str, year: int, *, for_update: bool = False
) -> AdoptionReport | None:
    stmt = select(AdoptionReport).where(
        AdoptionReport.credit_code == credit_code, AdoptionReport.year == year
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def upsert(session: AsyncSession, values: dict[str, Any]) -> AdoptionReport:
    stmt = insert(AdoptionReport).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["credit_code", "year"],
        set_={
            "main_products": stmt.excluded.main_products,
            "adopting_count": stmt.excluded.adopting_count,
            "adopting_products": stmt.excluded.adopting_products,
            "basis": stmt.excluded.basis,
            "updated_at": func.now(),
        },
    ).returning(AdoptionReport)
    return (await session.execute(stmt, execution_options={"populate_existing": True})).scalar_one()
